"""Pod specs out of every kind of workload, and the Pod Security level each namespace enforces.

Rules about pods should not care whether a pod comes from a Deployment, a CronJob's job
template or a KServe predictor: ``pod_specs`` turns any of them into ``PodSpec`` values
(pod-level fields, pod metadata, and every container with where it sits), reading the
read-only property proxies the policy SDK hands over without copying or mutating them.

KServe needs two special cases:

- An InferenceService component (``predictor``, ``transformer``, ``explainer``) is a pod spec
  whose ``model`` (or legacy framework block such as ``sklearn``) is a container that KServe
  merges with the ServingRuntime's container. Fields the model leaves out (image, security
  context, resources) come from the runtime, so checks skip missing fields on such containers
  (``Container.from_runtime``); the ServingRuntime is checked on its own.
- A ServingRuntime is a pod *fragment*: its containers and volumes end up in the pod, but the
  pod-level security context and token settings come from each InferenceService
  (``PodSpec.fragment``). Its containers must therefore carry their security context
  themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from mlops_blueprints.policies._rule import iter_list, prop

__all__ = [
    "DEFAULT_POD_SECURITY_LEVEL",
    "INFERENCE_SERVICE",
    "INFERENCE_SERVICE_MODEL_KEYS",
    "NAMESPACE",
    "NEEDS_API_ACCESS_ANNOTATION",
    "POD",
    "POD_SECURITY_ENFORCE_LABEL",
    "POD_TEMPLATE_PATHS",
    "WORKLOAD_TYPES",
    "Container",
    "PodSecurityLevel",
    "PodSpec",
    "annotation",
    "namespace_levels",
    "pod_specs",
]

PodSecurityLevel = Literal["privileged", "baseline", "restricted"]

NAMESPACE: Final = "kubernetes:core/v1:Namespace"
INFERENCE_SERVICE: Final = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
SERVING_RUNTIME: Final = "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime"
CLUSTER_SERVING_RUNTIME: Final = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"

POD_SECURITY_ENFORCE_LABEL: Final = "pod-security.kubernetes.io/enforce"
# A namespace without the enforce label, or one the stack does not create, counts as
# restricted: that is what every platform namespace enforces unless it says otherwise.
DEFAULT_POD_SECURITY_LEVEL: Final[PodSecurityLevel] = "restricted"
_LEVELS: Final[frozenset[str]] = frozenset({"privileged", "baseline", "restricted"})

# On a pod template (or its workload): the pod talks to the Kubernetes API, and why.
NEEDS_API_ACCESS_ANNOTATION: Final = "mlops-blueprints.io/needs-api-access"

# Where each workload kind keeps its pod template (``metadata`` + ``spec``).
POD_TEMPLATE_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
}
POD: Final = "kubernetes:core/v1:Pod"
_ISVC_COMPONENTS: Final[tuple[str, ...]] = ("predictor", "transformer", "explainer")
# ``model`` and the older per-framework predictor blocks: each a container KServe completes
# from a runtime.
INFERENCE_SERVICE_MODEL_KEYS: Final[tuple[str, ...]] = (
    "model",
    "sklearn",
    "xgboost",
    "lightgbm",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "pmml",
    "paddle",
    "huggingface",
)

WORKLOAD_TYPES: Final[tuple[str, ...]] = (
    POD,
    *POD_TEMPLATE_PATHS,
    INFERENCE_SERVICE,
    SERVING_RUNTIME,
    CLUSTER_SERVING_RUNTIME,
)

ContainerKind = Literal["container", "initContainer", "ephemeralContainer"]


@dataclass(frozen=True)
class Container:
    """One container of a pod: its fields, its list, and whether a runtime completes it."""

    name: str
    kind: ContainerKind
    fields: Mapping[str, Any]
    from_runtime: bool = False

    def get(self, *path: str, default: Any = None) -> Any:
        return prop(self.fields, *path, default=default)

    def security(self, *path: str, default: Any = None) -> Any:
        return prop(self.fields, "securityContext", *path, default=default)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name!r}" if self.kind != "container" else repr(self.name)


@dataclass(frozen=True)
class PodSpec:
    """A pod as a workload would create it.

    ``where`` names it in findings (``Deployment mlops/feature-store``); ``metadata`` is the
    pod template's, ``owner_metadata`` the workload object's; ``namespace`` is ``None`` for
    cluster-scoped runtimes, which serve any namespace.
    """

    where: str
    namespace: str | None
    spec: Mapping[str, Any]
    metadata: Mapping[str, Any]
    owner_metadata: Mapping[str, Any]
    containers: tuple[Container, ...]
    fragment: bool = False

    def get(self, *path: str, default: Any = None) -> Any:
        return prop(self.spec, *path, default=default)

    def security(self, *path: str, default: Any = None) -> Any:
        return prop(self.spec, "securityContext", *path, default=default)

    def volumes(self) -> Iterator[Mapping[str, Any]]:
        for volume in iter_list(self.get("volumes")):
            if isinstance(volume, Mapping):
                yield volume


_EMPTY: Final[Mapping[str, Any]] = {}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _containers(spec: Mapping[str, Any]) -> Iterator[Container]:
    kinds: Sequence[tuple[str, ContainerKind]] = (
        ("initContainers", "initContainer"),
        ("containers", "container"),
        ("ephemeralContainers", "ephemeralContainer"),
    )
    for key, kind in kinds:
        for index, container in enumerate(iter_list(prop(spec, key))):
            if isinstance(container, Mapping):
                name = prop(container, "name", default=None) or f"#{index}"
                yield Container(name=str(name), kind=kind, fields=container)


def _where(props: Mapping[str, Any], resource_type: str, suffix: str = "") -> str:
    kind = resource_type.rsplit(":", 1)[-1]
    name = prop(props, "metadata", "name", default="?")
    namespace = prop(props, "metadata", "namespace", default=None)
    place = f"{namespace}/{name}" if namespace else str(name)
    return f"{kind} {place}{suffix}"


def _namespace(props: Mapping[str, Any]) -> str:
    return str(prop(props, "metadata", "namespace", default=None) or "default")


def _inference_service(props: Mapping[str, Any]) -> Iterator[PodSpec]:
    owner = _mapping(prop(props, "metadata"))
    for component in _ISVC_COMPONENTS:
        spec = prop(props, "spec", component)
        if not isinstance(spec, Mapping):
            continue
        containers = list(_containers(spec))
        for framework in INFERENCE_SERVICE_MODEL_KEYS:
            block = prop(spec, framework)
            if isinstance(block, Mapping):
                name = prop(block, "name", default=None) or "kserve-container"
                containers.append(
                    Container(
                        name=f"{name} ({framework})",
                        kind="container",
                        fields=block,
                        from_runtime=True,
                    )
                )
        # KServe copies the component's labels and annotations onto its pods.
        metadata = {
            "labels": _mapping(prop(spec, "labels")),
            "annotations": _mapping(prop(spec, "annotations")),
        }
        yield PodSpec(
            where=_where(props, INFERENCE_SERVICE, f" {component}"),
            namespace=_namespace(props),
            spec=spec,
            metadata=metadata,
            owner_metadata=owner,
            containers=tuple(containers),
        )
        worker = prop(spec, "workerSpec")
        if isinstance(worker, Mapping):
            yield PodSpec(
                where=_where(props, INFERENCE_SERVICE, f" {component} worker"),
                namespace=_namespace(props),
                spec=worker,
                metadata=metadata,
                owner_metadata=owner,
                containers=tuple(_containers(worker)),
            )


def _serving_runtime(resource_type: str, props: Mapping[str, Any]) -> Iterator[PodSpec]:
    spec = _mapping(prop(props, "spec"))
    namespace = None if resource_type == CLUSTER_SERVING_RUNTIME else _namespace(props)
    owner = _mapping(prop(props, "metadata"))
    metadata = {
        "labels": _mapping(prop(spec, "labels")),
        "annotations": _mapping(prop(spec, "annotations")),
    }
    yield PodSpec(
        where=_where(props, resource_type),
        namespace=namespace,
        spec=spec,
        metadata=metadata,
        owner_metadata=owner,
        containers=tuple(_containers(spec)),
        fragment=True,
    )
    worker = prop(spec, "workerSpec")
    if isinstance(worker, Mapping):
        yield PodSpec(
            where=_where(props, resource_type, " worker"),
            namespace=namespace,
            spec=worker,
            metadata=metadata,
            owner_metadata=owner,
            containers=tuple(_containers(worker)),
            fragment=True,
        )


def pod_specs(resource_type: str, props: Mapping[str, Any]) -> list[PodSpec]:
    """Every pod spec ``props`` of a ``resource_type`` would run (none for other types)."""
    owner = _mapping(prop(props, "metadata"))
    if resource_type == POD:
        spec = _mapping(prop(props, "spec"))
        return [
            PodSpec(
                where=_where(props, resource_type),
                namespace=_namespace(props),
                spec=spec,
                metadata=owner,
                owner_metadata=owner,
                containers=tuple(_containers(spec)),
            )
        ]
    template_path = POD_TEMPLATE_PATHS.get(resource_type)
    if template_path is not None:
        template = _mapping(prop(props, *template_path))
        spec = _mapping(prop(template, "spec"))
        return [
            PodSpec(
                where=_where(props, resource_type),
                namespace=_namespace(props),
                spec=spec,
                metadata=_mapping(prop(template, "metadata")),
                owner_metadata=owner,
                containers=tuple(_containers(spec)),
            )
        ]
    if resource_type == INFERENCE_SERVICE:
        return list(_inference_service(props))
    if resource_type in (SERVING_RUNTIME, CLUSTER_SERVING_RUNTIME):
        return list(_serving_runtime(resource_type, props))
    return []


def annotation(pod: PodSpec, key: str) -> str:
    """``key``'s value on the pod template, else on the workload object, else ``""``."""
    for metadata in (pod.metadata, pod.owner_metadata):
        value = prop(metadata, "annotations", key, default=None)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def namespace_levels(resources: Sequence[Any]) -> dict[str, PodSecurityLevel]:
    """``{namespace: enforced level}`` for every Namespace among stack ``resources``.

    A namespace with no (or an unrecognised) enforce label counts as restricted.
    """
    levels: dict[str, PodSecurityLevel] = {}
    for resource in resources:
        if resource.resource_type != NAMESPACE:
            continue
        name = prop(resource.props, "metadata", "name", default=None)
        if not isinstance(name, str) or not name:
            continue
        label = prop(resource.props, "metadata", "labels", POD_SECURITY_ENFORCE_LABEL)
        levels[name] = label if label in _LEVELS else DEFAULT_POD_SECURITY_LEVEL
    return levels
