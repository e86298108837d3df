"""Kubernetes API access: least-privilege RBAC and service-account tokens only where needed.

A pod that talks to the Kubernetes API says so with the annotation
``mlops-blueprints.io/needs-api-access: "<reason>"`` on its pod template (or its workload
object); a ServiceAccount whose pods need their token carries the same annotation. Everything
else opts out of the token, so a compromised container holds no credential for the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from mlops_blueprints.policies._rule import Rule, iter_list, prop
from pulumi_policy import ResourceValidationArgs

from .._rule import Report
from ._mapping import KUBERNETES_TAG, controls
from ._workloads import NEEDS_API_ACCESS_ANNOTATION, WORKLOAD_TYPES, annotation, pod_specs

__all__ = [
    "CLUSTER_ROLE",
    "CLUSTER_ROLE_BINDING",
    "RBAC_RULES",
    "ROLE",
    "ROLE_BINDING",
    "SERVICE_ACCOUNT",
]

_RBAC: Final = "kubernetes:rbac.authorization.k8s.io/v1"
ROLE: Final = f"{_RBAC}:Role"
CLUSTER_ROLE: Final = f"{_RBAC}:ClusterRole"
ROLE_BINDING: Final = f"{_RBAC}:RoleBinding"
CLUSTER_ROLE_BINDING: Final = f"{_RBAC}:ClusterRoleBinding"
SERVICE_ACCOUNT: Final = "kubernetes:core/v1:ServiceAccount"

CLUSTER_ADMIN: Final = "cluster-admin"
# Groups that hold every service account (of the cluster, or of one namespace).
SERVICE_ACCOUNT_GROUP: Final = "system:serviceaccounts"


def _no_wildcards(args: ResourceValidationArgs, report: Report) -> None:
    problems = []
    for index, rule in enumerate(iter_list(prop(args.props, "rules"))):
        if not isinstance(rule, Mapping):
            continue
        verbs = [v for v in iter_list(rule.get("verbs")) if isinstance(v, str) and "*" in v]
        resources = [r for r in iter_list(rule.get("resources")) if isinstance(r, str) and "*" in r]
        if verbs:
            problems.append(f"rule {index} grants verbs {', '.join(verbs)}")
        if resources:
            problems.append(f"rule {index} covers resources {', '.join(resources)}")
    if problems:
        kind = args.resource_type.rsplit(":", 1)[-1]
        name = prop(args.props, "metadata", "name", default=args.name)
        report(f"{kind} {name!r}: " + "; ".join(problems), None)


def _is_service_account_subject(subject: Mapping[str, object]) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        return True
    return (
        kind == "Group"
        and isinstance(name, str)
        and (name == SERVICE_ACCOUNT_GROUP or name.startswith(f"{SERVICE_ACCOUNT_GROUP}:"))
    )


def _no_cluster_admin_service_accounts(args: ResourceValidationArgs, report: Report) -> None:
    ref_kind = prop(args.props, "roleRef", "kind")
    ref_name = prop(args.props, "roleRef", "name")
    if ref_kind != "ClusterRole" or ref_name != CLUSTER_ADMIN:
        return
    subjects = []
    for subject in iter_list(prop(args.props, "subjects")):
        if isinstance(subject, Mapping) and _is_service_account_subject(subject):
            namespace = subject.get("namespace")
            name = subject.get("name")
            subjects.append(f"{subject.get('kind')} {namespace}/{name}" if namespace else str(name))
    if subjects:
        kind = args.resource_type.rsplit(":", 1)[-1]
        binding = prop(args.props, "metadata", "name", default=args.name)
        report(f"{kind} {binding!r} grants cluster-admin to {', '.join(subjects)}", None)


def _pods_skip_token(args: ResourceValidationArgs, report: Report) -> None:
    findings = []
    for pod in pod_specs(args.resource_type, args.props):
        if pod.fragment:
            continue  # a runtime's pods take the setting from each InferenceService
        if pod.get("automountServiceAccountToken") is False:
            continue
        if annotation(pod, NEEDS_API_ACCESS_ANNOTATION):
            continue
        findings.append(
            f"{pod.where} mounts a service-account token (automountServiceAccountToken is "
            f"{pod.get('automountServiceAccountToken')!r}) without a "
            f"{NEEDS_API_ACCESS_ANNOTATION} annotation"
        )
    if findings:
        report(" | ".join(findings), None)


def _service_accounts_skip_token(args: ResourceValidationArgs, report: Report) -> None:
    if prop(args.props, "automountServiceAccountToken") is False:
        return
    reason = prop(args.props, "metadata", "annotations", NEEDS_API_ACCESS_ANNOTATION)
    if isinstance(reason, str) and reason.strip():
        return
    name = prop(args.props, "metadata", "name", default=args.name)
    namespace = prop(args.props, "metadata", "namespace", default="default")
    report(
        f"ServiceAccount {namespace}/{name} lets pods mount its token by default "
        f"(automountServiceAccountToken is {prop(args.props, 'automountServiceAccountToken')!r})",
        None,
    )


_API_ACCESS_CONTROLS = controls(
    cis=("4.1.6",),
    nist=("AC-6", "CM-7"),
    gdpr=("Art. 25", "Art. 32"),
)

RBAC_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="k8s-rbac-roles-without-wildcards",
        description=(
            "No Role or ClusterRole rule grants wildcard verbs or wildcard resources; each "
            "names the verbs and resources it needs."
        ),
        remediation=(
            "List the exact verbs (get, list, watch, ...) and resources (pods, configmaps, ...) "
            "in each rule instead of '*'."
        ),
        severity="high",
        controls=controls(
            cis=("4.1.3",),
            nist=("AC-3", "AC-6"),
            hipaa=("164.308(a)(4)", "164.312(a)(1)"),
            gdpr=("Art. 25", "Art. 32"),
        ),
        resource_types=(ROLE, CLUSTER_ROLE),
        validate_resource=_no_wildcards,
        tags=(KUBERNETES_TAG, "rbac"),
    ),
    Rule(
        name="k8s-service-accounts-not-cluster-admin",
        description=(
            "No RoleBinding or ClusterRoleBinding grants the cluster-admin ClusterRole to a "
            "service account (or to the service-account groups)."
        ),
        remediation=(
            "Bind the service account to a Role (or narrow ClusterRole) with the verbs and "
            "resources its workload uses."
        ),
        severity="critical",
        controls=controls(
            cis=("4.1.1",),
            nist=("AC-6",),
            hipaa=("164.308(a)(4)", "164.312(a)(1)"),
            gdpr=("Art. 25", "Art. 32"),
        ),
        resource_types=(ROLE_BINDING, CLUSTER_ROLE_BINDING),
        validate_resource=_no_cluster_admin_service_accounts,
        tags=(KUBERNETES_TAG, "rbac"),
    ),
    Rule(
        name="k8s-pods-skip-service-account-token",
        description=(
            "Pods set automountServiceAccountToken: false unless their template (or workload) "
            f"is annotated {NEEDS_API_ACCESS_ANNOTATION} with the reason they call the "
            "Kubernetes API."
        ),
        remediation=(
            "Set automountServiceAccountToken: false in the pod spec (InferenceService "
            "components included); a pod that calls the API instead carries the annotation "
            f'{NEEDS_API_ACCESS_ANNOTATION}: "<why>".'
        ),
        severity="medium",
        controls=_API_ACCESS_CONTROLS,
        resource_types=WORKLOAD_TYPES,
        validate_resource=_pods_skip_token,
        tags=(KUBERNETES_TAG, "rbac"),
    ),
    Rule(
        name="k8s-service-accounts-skip-token-automount",
        description=(
            "ServiceAccounts set automountServiceAccountToken: false unless annotated "
            f"{NEEDS_API_ACCESS_ANNOTATION} with the reason their pods call the Kubernetes API."
        ),
        remediation=(
            "Set automountServiceAccountToken: false on the ServiceAccount (the identity "
            "components do); a service account whose pods call the API instead carries the "
            f'annotation {NEEDS_API_ACCESS_ANNOTATION}: "<why>".'
        ),
        severity="medium",
        controls=_API_ACCESS_CONTROLS,
        resource_types=(SERVICE_ACCOUNT,),
        validate_resource=_service_accounts_skip_token,
        tags=(KUBERNETES_TAG, "rbac"),
    ),
)
