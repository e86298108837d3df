"""Pure planning for KServe serving: model references, runtimes, placement and timeouts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.versions import IMAGES

from ..database._common import validate_resources
from ..kubernetes import RESTRICTED_CONTAINER_SECURITY_CONTEXT
from ..node_pools import HARDWARE_CLASSES, HardwareClass, NodePoolSpec, place_workload

__all__ = [
    "DEPLOYMENT_MODES",
    "KSERVE_DEPLOYMENT_MODE",
    "RUNTIMES",
    "AutoscalingMetric",
    "DeploymentMode",
    "ModelReference",
    "RuntimeName",
    "ScaleToZeroTimeouts",
    "cert_manager_values",
    "effective_metric",
    "kserve_resources_values",
    "parse_model_uri",
    "parse_runtime",
    "predictor_placement",
    "resolve_storage_uri",
    "runtime_port",
    "scale_to_zero_timeouts",
    "select_pool",
    "serving_runtime_spec",
    "validate_resources",
    "validate_scaling",
]

DeploymentMode = Literal["RawDeployment", "Serverless"]
DEPLOYMENT_MODES: Final[tuple[DeploymentMode, ...]] = ("RawDeployment", "Serverless")
# KServe 0.15+ names the modes Standard and Knative; the older names are deprecated aliases.
KSERVE_DEPLOYMENT_MODE: Final[Mapping[DeploymentMode, str]] = {
    "RawDeployment": "Standard",
    "Serverless": "Knative",
}

AutoscalingMetric = Literal["concurrency", "rps", "cpu"]
RuntimeName = Literal["sklearn", "xgboost", "bentoml"]
RUNTIMES: Final[tuple[RuntimeName, ...]] = ("sklearn", "xgboost", "bentoml")
_NOT_YET_SUPPORTED: Final[Mapping[str, str]] = {
    "vllm": (
        "A vLLM runtime is not supported yet: it needs GPU-sized model caching and the KServe "
        "Hugging Face runtime, which this package does not configure. Use sklearn, xgboost or "
        "a bentoml container for now."
    ),
}
_KSERVE_PORT: Final = 8080
_BENTOML_PORT: Final = 3000

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,254}$")
_IMAGE_TAG = re.compile(
    r"^[^\s:@/][^\s@]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$"
)


def parse_runtime(value: object, *, field: str = "runtime") -> RuntimeName:
    """One of the shipped runtimes; vLLM (and anything unknown) fails with what to use."""
    for known in RUNTIMES:
        if value == known:
            return known
    if isinstance(value, str) and value.lower() in _NOT_YET_SUPPORTED:
        raise BlueprintConfigError(field, value, _NOT_YET_SUPPORTED[value.lower()])
    raise BlueprintConfigError(field, value, f"Use one of the runtimes: {', '.join(RUNTIMES)}.")


def parse_deployment_mode(value: object, *, field: str = "deployment_mode") -> DeploymentMode:
    for known in DEPLOYMENT_MODES:
        if value == known:
            return known
    raise BlueprintConfigError(
        field, value, "Use 'RawDeployment' (the default) or 'Serverless' (needs Knative)."
    )


def validate_pinned_image(value: str, *, field: str) -> str:
    """An image reference with an explicit tag (not ``latest``) or a sha256 digest."""
    if not _IMAGE_TAG.match(value) or value.endswith(":latest"):
        raise BlueprintConfigError(
            field,
            value,
            "Pin the image to a version tag or digest, e.g. "
            "'registry.example.com/mlops/churn:1.4.2' (never ':latest' or no tag).",
        )
    return value


@dataclass(frozen=True)
class ModelReference:
    """A registered model version: ``models:/name@alias`` or ``models:/name/<version>``."""

    name: str
    alias: str | None = None
    version: int | None = None

    @property
    def uri(self) -> str:
        return (
            f"models:/{self.name}@{self.alias}"
            if self.alias
            else (f"models:/{self.name}/{self.version}")
        )


def parse_model_uri(value: str, *, field: str = "model_uri") -> ModelReference:
    """Parse a registry URI; a bare ``models:/name`` (no alias, no version) is refused."""
    example = (
        "Use 'models:/<name>@<alias>' (e.g. 'models:/churn@champion') or "
        "'models:/<name>/<version>'."
    )
    if not isinstance(value, str) or not value.startswith("models:/"):
        raise BlueprintConfigError(field, value, example)
    rest = value.removeprefix("models:/")
    if "@" in rest:
        name, _, alias = rest.partition("@")
        if not _MODEL_NAME.match(name) or not _ALIAS.match(alias):
            raise BlueprintConfigError(field, value, example)
        return ModelReference(name=name, alias=alias)
    name, slash, version = rest.partition("/")
    if not slash:
        raise BlueprintConfigError(
            field,
            value,
            "Name the version to serve: an alias such as 'models:/"
            f"{name}@champion' or a number such as 'models:/{name}/3'; a bare name would "
            "change what is served whenever a version is registered.",
        )
    if not _MODEL_NAME.match(name) or not version.isdigit() or int(version) < 1:
        raise BlueprintConfigError(field, value, example)
    return ModelReference(name=name, version=int(version))


def resolve_storage_uri(reference: ModelReference, tracking_uri: str) -> str:
    """Where the registry stores the model version's files (e.g. ``s3://bucket/.../artifacts``).

    Used during ``pulumi up``; pass ``storage_uri`` to the endpoint to skip the registry call.
    """
    from mlflow import MlflowClient  # noqa: PLC0415 - importing mlflow takes seconds

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if reference.alias is not None:
        version = client.get_model_version_by_alias(reference.name, reference.alias).version
    else:
        version = client.get_model_version(reference.name, str(reference.version)).version
    # The download URI follows MLflow 3 logged-model sources (``models:/m-...``) to storage.
    return str(client.get_model_version_download_uri(reference.name, str(version)))


def select_pool(
    pools: Sequence[NodePoolSpec],
    hardware_class: HardwareClass,
    *,
    pool_name: str | None = None,
    field: str = "hardware_class",
) -> NodePoolSpec:
    """The pool an endpoint runs on: the named one, else the first of the class."""
    if hardware_class not in HARDWARE_CLASSES:
        raise BlueprintConfigError(
            field,
            hardware_class,
            f"Use one of the hardware classes: {', '.join(HARDWARE_CLASSES)}.",
        )
    if pool_name is not None:
        for pool in pools:
            if pool.name == pool_name:
                if pool.hardware_class != hardware_class:
                    raise BlueprintConfigError(
                        "node_pool",
                        pool_name,
                        f"Pool {pool_name!r} provides {pool.hardware_class}, not "
                        f"{hardware_class}; name a {hardware_class} pool.",
                    )
                return pool
        raise BlueprintConfigError(
            "node_pool",
            pool_name,
            f"Name one of the pools: {', '.join(p.name for p in pools) or '(none)'}.",
        )
    for pool in pools:
        if pool.hardware_class == hardware_class:
            return pool
    available = sorted({p.hardware_class for p in pools})
    raise BlueprintConfigError(
        field,
        hardware_class,
        f"No node pool provides {hardware_class} (available: {', '.join(available) or 'none'}). "
        "Add such a pool to the cluster (kind and Level 1 have cpu only), or use one of the "
        "available classes.",
    )


def effective_metric(
    deployment_mode: DeploymentMode, autoscaling_metric: AutoscalingMetric | None
) -> str:
    """The autoscaling metric in force: concurrency on Serverless, cpu on RawDeployment."""
    if autoscaling_metric is not None:
        return autoscaling_metric
    return "concurrency" if deployment_mode == "Serverless" else "cpu"


def validate_scaling(
    *,
    deployment_mode: DeploymentMode,
    min_replicas: int,
    max_replicas: int,
    autoscaling_metric: AutoscalingMetric | None,
    autoscaling_target: int | None,
    canary_traffic_percent: int | None,
) -> None:
    """Replicas, autoscaling and canary settings the deployment mode can honour."""
    serverless = deployment_mode == "Serverless"
    if min_replicas < 0:
        raise BlueprintConfigError("min_replicas", min_replicas, "Use 0 (Serverless only) or more.")
    if max_replicas < 1:
        raise BlueprintConfigError("max_replicas", max_replicas, "Use 1 or more.")
    if min_replicas > max_replicas:
        raise BlueprintConfigError(
            "min_replicas",
            min_replicas,
            f"min_replicas must not exceed max_replicas ({max_replicas}); lower "
            "min_replicas or raise max_replicas.",
        )
    if min_replicas == 0 and not serverless:
        raise BlueprintConfigError(
            "min_replicas",
            0,
            "Scale to zero needs the Serverless deployment mode (Knative); use "
            "min_replicas >= 1 with RawDeployment.",
        )
    metric = effective_metric(deployment_mode, autoscaling_metric)
    if metric not in ("concurrency", "rps", "cpu"):
        raise BlueprintConfigError(
            "autoscaling_metric", metric, "Use 'concurrency', 'rps' or 'cpu'."
        )
    if metric in ("concurrency", "rps") and not serverless:
        raise BlueprintConfigError(
            "autoscaling_metric",
            metric,
            "RawDeployment scales with a HorizontalPodAutoscaler, which KServe allows on "
            "cpu (or memory) only; use 'cpu', or the Serverless mode for request metrics.",
        )
    if metric == "cpu" and serverless:
        raise BlueprintConfigError(
            "autoscaling_metric",
            metric,
            "Knative's autoscaler scales on 'concurrency' or 'rps'; use one of those.",
        )
    target = autoscaling_target
    if target is not None and (target < 1 or (metric == "cpu" and target > 100)):
        raise BlueprintConfigError(
            "autoscaling_target",
            target,
            "Use a positive target (for cpu, a utilisation percentage of 1-100).",
        )
    percent = canary_traffic_percent
    if percent is not None:
        if not 0 <= percent <= 100:
            raise BlueprintConfigError(
                "canary_traffic_percent", percent, "Use a percentage from 0 to 100."
            )
        if not serverless:
            raise BlueprintConfigError(
                "canary_traffic_percent",
                percent,
                "KServe splits traffic between revisions only in the Serverless mode "
                "(RawDeployment ignores it); switch the stack to Serverless or leave it unset.",
            )


def predictor_placement(
    resources: Mapping[str, Any], pool: NodePoolSpec, *, accelerators: int
) -> tuple[dict[str, str], list[dict[str, str]], dict[str, Any]]:
    """(nodeSelector, tolerations, container resources) placing the predictor on ``pool``."""
    placed = place_workload(
        {"containers": [{"name": "kserve-container", "resources": dict(resources)}]},
        pool,
        accelerators=accelerators,
    )
    return (
        placed["nodeSelector"],
        placed.get("tolerations", []),
        placed["containers"][0].get("resources", {}),
    )


@dataclass(frozen=True)
class ScaleToZeroTimeouts:
    """Knative timeouts that let a scaled-to-zero endpoint wait for a fresh node."""

    cold_start_seconds: int
    scale_down_delay_seconds: int
    progress_deadline_seconds: int
    revision_timeout_seconds: int

    def annotations(self) -> dict[str, str]:
        return {
            "autoscaling.knative.dev/scale-down-delay": f"{self.scale_down_delay_seconds}s",
            "serving.knative.dev/progress-deadline": f"{self.progress_deadline_seconds}s",
        }


def scale_to_zero_timeouts(
    provisioning_seconds: int, *, model_load_seconds: int
) -> ScaleToZeroTimeouts:
    """Timeouts derived from the pool's node provisioning time plus model load time.

    - cold start = provisioning + model load;
    - progress deadline = 1.5 x cold start + 60 s margin (Knative marks the revision failed
      when a pod is not ready by then);
    - revision (request) timeout = cold start + 60 s, so the first request, held by the
      activator, is still answered;
    - scale-down delay = the provisioning time, so a replica is not dropped sooner than a new
      node could come back.
    Every value is above ``provisioning_seconds`` and grows with it.
    """
    if provisioning_seconds < 1 or model_load_seconds < 0:
        raise ValueError("provisioning_seconds must be >= 1 and model_load_seconds >= 0")
    cold = provisioning_seconds + model_load_seconds
    return ScaleToZeroTimeouts(
        cold_start_seconds=cold,
        scale_down_delay_seconds=provisioning_seconds + 60,
        progress_deadline_seconds=math.ceil(cold * 1.5) + 60,
        revision_timeout_seconds=cold + 60,
    )


def runtime_port(runtime: RuntimeName) -> int:
    """The port a runtime's server listens on (HTTP and ``/metrics``)."""
    return _BENTOML_PORT if runtime == "bentoml" else _KSERVE_PORT


def serving_runtime_spec(
    runtime: RuntimeName,
    *,
    image: str | None = None,
    cpu_request: str = "500m",
    memory_request_mib: int = 512,
    memory_limit_mib: int = 2048,
) -> dict[str, Any]:
    """``spec`` of a namespaced ``ServingRuntime`` (serving.kserve.io/v1alpha1)."""
    resources = {
        "requests": {"cpu": cpu_request, "memory": f"{memory_request_mib}Mi"},
        "limits": {"memory": f"{memory_limit_mib}Mi"},
    }
    port = runtime_port(runtime)
    container: dict[str, Any] = {
        "name": "kserve-container",
        "resources": resources,
        "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
        "ports": [{"name": "http1", "containerPort": port, "protocol": "TCP"}],
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if runtime == "bentoml":
        if image is None:
            raise BlueprintConfigError(
                "bentoml_image", image, "Give the built bento's image, pinned to a tag."
            )
        container["image"] = image
        container["env"] = [{"name": "BENTOML_PORT", "value": str(port)}]
        formats = [{"name": "bentoml", "version": "1", "autoSelect": True, "priority": 1}]
        protocols = ["v1"]
    else:
        container["image"] = IMAGES[
            "kserve-sklearnserver" if runtime == "sklearn" else "kserve-xgbserver"
        ]
        container["args"] = [
            "--model_name={{.Name}}",
            "--model_dir=/mnt/models",
            f"--http_port={port}",
        ]
        formats = [{"name": runtime, "version": "1", "autoSelect": True, "priority": 1}]
        protocols = ["v1", "v2"]
    return {
        "supportedModelFormats": formats,
        "protocolVersions": protocols,
        "annotations": {
            "prometheus.kserve.io/port": str(port),
            "prometheus.kserve.io/path": "/metrics",
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def cert_manager_values() -> dict[str, Any]:
    """cert-manager installs (and keeps) its CRDs; one replica per controller."""
    return {"crds": {"enabled": True, "keep": True}}


def kserve_resources_values(mode: DeploymentMode) -> dict[str, Any]:
    """kserve-resources: the default deployment mode and no ingress objects (in-cluster only)."""
    return {
        "kserve": {
            "controller": {
                "deploymentMode": KSERVE_DEPLOYMENT_MODE[mode],
                "gateway": {"disableIngressCreation": True},
            }
        }
    }
