"""Kubernetes objects for the policy tests, compliant by default, built as renders record them.

``pod_spec()`` is a pod that satisfies Pod Security ``restricted`` with the platform's own
security contexts, requests and limits, a pinned image and no service-account token;
``workload(type, spec)`` wraps a pod spec the way each kind nests it. Tests change one field
of a fresh copy and expect exactly that rule to fire.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from mlops_blueprints.components.kubernetes import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    RESTRICTED_POD_SECURITY_CONTEXT,
)
from mlops_blueprints.policies._analyze import AnalyzedResource

from ._helpers import resource

DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
STATEFUL_SET: Final = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET: Final = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET: Final = "kubernetes:apps/v1:ReplicaSet"
JOB: Final = "kubernetes:batch/v1:Job"
CRON_JOB: Final = "kubernetes:batch/v1:CronJob"
POD: Final = "kubernetes:core/v1:Pod"
INFERENCE_SERVICE: Final = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
SERVING_RUNTIME: Final = "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime"
CLUSTER_SERVING_RUNTIME: Final = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"
NAMESPACE: Final = "kubernetes:core/v1:Namespace"
SERVICE: Final = "kubernetes:core/v1:Service"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_ACCOUNT: Final = "kubernetes:core/v1:ServiceAccount"

# Kinds whose pod template is a full pod spec (the InferenceService predictor is one too).
TEMPLATED_KINDS: Final[tuple[str, ...]] = (
    POD,
    DEPLOYMENT,
    STATEFUL_SET,
    DAEMON_SET,
    REPLICA_SET,
    JOB,
    CRON_JOB,
    INFERENCE_SERVICE,
)


def container(name: str = "app", **fields: Any) -> dict[str, Any]:
    """A restricted, sized, pinned container."""
    body: dict[str, Any] = {
        "name": name,
        "image": "registry.example.com/team/app:1.4.2",
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": copy.deepcopy(RESTRICTED_CONTAINER_SECURITY_CONTEXT),
    }
    body.update(fields)
    return body


def pod_spec(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A restricted pod spec with ``containers`` (one default container if none)."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": copy.deepcopy(RESTRICTED_POD_SECURITY_CONTEXT),
        "containers": list(containers) or [container()],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    spec.update(fields)
    return spec


def workload(
    type_: str,
    spec: Mapping[str, Any] | None = None,
    *,
    name: str = "app",
    namespace: str | None = "mlops",
    pod_annotations: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> AnalyzedResource:
    """``type_`` (any workload kind) running ``spec`` (default: ``pod_spec()``)."""
    pod = dict(spec if spec is not None else pod_spec())
    metadata: dict[str, Any] = {"name": name, "labels": {"app": name}}
    if namespace is not None:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = dict(annotations)
    template_metadata: dict[str, Any] = {"labels": {"app": name}}
    if pod_annotations:
        template_metadata["annotations"] = dict(pod_annotations)
    template = {"metadata": template_metadata, "spec": pod}
    kind = type_.rsplit(":", 1)[-1]
    body: dict[str, Any]
    if type_ == POD:
        if pod_annotations:
            metadata["annotations"] = {**metadata.get("annotations", {}), **pod_annotations}
        body = {"spec": pod}
    elif type_ == CRON_JOB:
        body = {"spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    elif type_ == INFERENCE_SERVICE:
        predictor = dict(pod)
        if pod_annotations:
            predictor["annotations"] = dict(pod_annotations)
        body = {"spec": {"predictor": predictor}}
    elif type_ in (SERVING_RUNTIME, CLUSTER_SERVING_RUNTIME):
        body = {"spec": {"supportedModelFormats": [{"name": "sklearn"}], **pod}}
    else:
        body = {"spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}
    props = {"apiVersion": "v1", "kind": kind, "metadata": metadata, **body}
    return resource(type_, name, props)


def namespace(name: str, level: str | None = "restricted") -> AnalyzedResource:
    """A Namespace enforcing ``level`` (no enforce label when ``None``)."""
    labels = {"kubernetes.io/metadata.name": name}
    if level is not None:
        labels["pod-security.kubernetes.io/enforce"] = level
    return resource(
        NAMESPACE,
        f"{name}-namespace",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}},
    )
