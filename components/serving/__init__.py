"""Model serving on KServe: the serving stack and one endpoint per registered model."""

from ._endpoint import AutoscalingMetric, InferenceEndpoint, InferenceEndpointArgs
from ._plan import (
    DEPLOYMENT_MODES,
    KSERVE_DEPLOYMENT_MODE,
    RUNTIMES,
    DeploymentMode,
    ModelReference,
    RuntimeName,
    ScaleToZeroTimeouts,
    parse_model_uri,
    resolve_storage_uri,
    scale_to_zero_timeouts,
    select_pool,
    serving_runtime_spec,
    validate_resources,
    validate_scaling,
)
from ._stack import ServingStack, ServingStackArgs, runtime_object_name

__all__ = [
    "DEPLOYMENT_MODES",
    "KSERVE_DEPLOYMENT_MODE",
    "RUNTIMES",
    "AutoscalingMetric",
    "DeploymentMode",
    "InferenceEndpoint",
    "InferenceEndpointArgs",
    "ModelReference",
    "RuntimeName",
    "ScaleToZeroTimeouts",
    "ServingStack",
    "ServingStackArgs",
    "parse_model_uri",
    "resolve_storage_uri",
    "runtime_object_name",
    "scale_to_zero_timeouts",
    "select_pool",
    "serving_runtime_spec",
    "validate_resources",
    "validate_scaling",
]
