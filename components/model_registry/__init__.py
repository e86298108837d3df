"""Model registry: an MLflow tracking server and model registry on any target."""

from ._plan import ServerSettings, chart_values, server_args, server_env, server_settings
from ._registry import ModelRegistry, ModelRegistryArgs

__all__ = [
    "ModelRegistry",
    "ModelRegistryArgs",
    "ServerSettings",
    "chart_values",
    "server_args",
    "server_env",
    "server_settings",
]
