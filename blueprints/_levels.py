"""Maturity levels as typed configuration.

A level is a set of ``enable_*`` features on top of the level below it, so the difference
between two levels reads as a short diff of flags (see ``LEVEL_FEATURES``). Every flag is
off in the base; a level only ever turns flags on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from mlops_blueprints.errors import BlueprintConfigError

__all__ = [
    "LEVELS",
    "LEVEL_FEATURES",
    "Level",
    "LevelFeatures",
    "features_for_level",
    "parse_level",
]

Level = Literal[1, 2, 3, 4]
LEVELS: tuple[Level, ...] = (1, 2, 3, 4)


class LevelFeatures(BaseModel):
    """What a level turns on. Every flag defaults to off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Level 1: standardized.
    enable_platform_namespace: bool = False
    enable_data_lake: bool = False
    enable_experiment_tracking: bool = False
    enable_data_versioning: bool = False
    enable_cpu_node_pools: bool = False
    # Level 2: automated CI/CD.
    enable_ci_cd: bool = False
    enable_pipelines: bool = False
    enable_serving: bool = False
    enable_basic_monitoring: bool = False
    enable_gpu_node_pools: bool = False
    # Level 3: full observability.
    enable_feature_store: bool = False
    enable_drift_detection: bool = False
    enable_lineage: bool = False
    enable_accelerator_metrics: bool = False
    enable_cost_allocation: bool = False
    enable_neuron_node_pools: bool = False
    # Level 4: security-native.
    enable_customer_managed_keys: bool = False
    enable_access_logging: bool = False
    enable_high_availability: bool = False
    enable_service_authentication: bool = False
    enable_mandatory_policies: bool = False
    enable_budgets: bool = False


_LEVEL_1 = LevelFeatures(
    enable_platform_namespace=True,
    enable_data_lake=True,
    enable_experiment_tracking=True,
    enable_data_versioning=True,
    enable_cpu_node_pools=True,
)
_LEVEL_2 = _LEVEL_1.model_copy(
    update={
        "enable_ci_cd": True,
        "enable_pipelines": True,
        "enable_serving": True,
        "enable_basic_monitoring": True,
        "enable_gpu_node_pools": True,
    }
)
_LEVEL_3 = _LEVEL_2.model_copy(
    update={
        "enable_feature_store": True,
        "enable_drift_detection": True,
        "enable_lineage": True,
        "enable_accelerator_metrics": True,
        "enable_cost_allocation": True,
        "enable_neuron_node_pools": True,
    }
)
_LEVEL_4 = _LEVEL_3.model_copy(
    update={
        "enable_customer_managed_keys": True,
        "enable_access_logging": True,
        "enable_high_availability": True,
        "enable_service_authentication": True,
        "enable_mandatory_policies": True,
        "enable_budgets": True,
    }
)

LEVEL_FEATURES: dict[Level, LevelFeatures] = {1: _LEVEL_1, 2: _LEVEL_2, 3: _LEVEL_3, 4: _LEVEL_4}


def parse_level(value: object, *, field: str = "level") -> Level:
    """Accept 1-4 as int or text (``"3"``, ``"L3"``); anything else is a clear error."""
    text = str(value).strip().upper().removeprefix("L")
    # isdecimal() alone admits other scripts' digits ("²" is a digit, not a decimal).
    if text.isascii() and text.isdecimal() and int(text) in LEVELS:
        level: Level = int(text)  # type: ignore[assignment]
        return level
    raise BlueprintConfigError(field, value, "Use a maturity level from 1 to 4 (e.g. 2 or L2).")


def features_for_level(level: Level) -> LevelFeatures:
    return LEVEL_FEATURES[level]
