"""Kubernetes rules: Pod Security Standards, container hygiene, network exposure, API access.

Every rule reads the manifests a stack registers (``kubernetes:apps/v1:Deployment`` and the
other workload kinds, KServe InferenceServices and ServingRuntimes, Services, NetworkPolicies,
RBAC objects, ServiceAccounts and Namespaces). Helm releases and kustomize directories carry
no manifests in a render, so the objects they install are out of these rules' sight.
"""

from typing import Final

from mlops_blueprints.policies._rule import Rule

from ._containers import CONTAINER_RULES, image_pin_problem
from ._network import NETWORK_RULES, is_default_deny
from ._pod_security import BASELINE_TAG, POD_SECURITY_RULES, RESTRICTED_TAG
from ._rbac import RBAC_RULES
from ._workloads import (
    NEEDS_API_ACCESS_ANNOTATION,
    POD_SECURITY_ENFORCE_LABEL,
    WORKLOAD_TYPES,
    PodSpec,
    namespace_levels,
    pod_specs,
)

RULES: Final[tuple[Rule, ...]] = (
    *POD_SECURITY_RULES,
    *CONTAINER_RULES,
    *NETWORK_RULES,
    *RBAC_RULES,
)

__all__ = [
    "BASELINE_TAG",
    "NEEDS_API_ACCESS_ANNOTATION",
    "POD_SECURITY_ENFORCE_LABEL",
    "RESTRICTED_TAG",
    "RULES",
    "WORKLOAD_TYPES",
    "PodSpec",
    "image_pin_problem",
    "is_default_deny",
    "namespace_levels",
    "pod_specs",
]
