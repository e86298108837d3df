"""Rules on Helm releases: what the values the platform passes to each chart must hold.

A chart renders its objects inside the cluster, so a release shows policy nothing but its
``chart``, ``version`` and ``values``. These rules read the values, chart by chart where a
setting's meaning depends on the chart, and generically where it does not (a ``service``
block's ``type`` means the same in every chart).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pulumi_policy import ResourceValidationArgs

from .._rule import Report, Rule, iter_list, prop
from ._values import chart_name, dotted, get_path, is_local_chart, walk

__all__ = [
    "ADMIN_CREDENTIALS",
    "EXTERNAL_SERVICE_DEFAULTS",
    "HELM_RELEASE_TYPES",
    "REQUIRED_SECURITY_CONTEXTS",
    "RULES",
    "AdminCredentials",
    "SecurityContextPath",
]

HELM_RELEASE_TYPES: Final = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")

# An exact SemVer 2 version, optionally with Helm's customary leading "v" (cert-manager, KServe).
_EXACT_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)


def _values(args: ResourceValidationArgs) -> Any:
    return prop(args.props, "values")


# --- charts pinned ---------------------------------------------------------------------------


def _validate_pinned(args: ResourceValidationArgs, report: Report) -> None:
    chart = prop(args.props, "chart")
    if is_local_chart(chart):
        return
    version = prop(args.props, "version")
    if not isinstance(version, str) or not version.strip():
        report(f"chart {chart!r} has no version: Helm would install whatever is newest")
    elif not _EXACT_VERSION.match(version):
        report(
            f"chart {chart!r} version {version!r} is not one exact version (ranges, wildcards "
            "and partial versions let Helm pick a newer chart)"
        )


CHART_PINNED = Rule(
    name="helm-chart-pinned-to-exact-version",
    description=(
        "Every Helm release names one exact chart version, so a deploy installs exactly the "
        "chart that was reviewed and tested."
    ),
    remediation=(
        "Set the release's version to an exact SemVer version from "
        "mlops_blueprints.versions.CHARTS (no ranges such as '^1.2', '~1.2' or '1.x', and "
        "never empty)."
    ),
    severity="medium",
    controls={
        "nist-800-53": ("CM-2", "SI-7", "SR-3"),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=HELM_RELEASE_TYPES,
    validate_resource=_validate_pinned,
)


# --- admin credentials -----------------------------------------------------------------------


@dataclass(frozen=True)
class AdminCredentials:
    """Where a chart takes its built-in admin account's credentials from.

    ``enabled``/``enabled_by_default``: the switch for the component that has the account
    (``None``: always on). ``password``: the plaintext value key. ``secret``: the key naming
    an existing Secret that holds the credentials instead.
    """

    password: tuple[str, ...]
    secret: tuple[str, ...]
    enabled: tuple[str, ...] | None = None
    enabled_by_default: bool = True
    well_known_default: str | None = None


ADMIN_CREDENTIALS: Final[Mapping[str, AdminCredentials]] = {
    # The Grafana sub-chart: older kube-prometheus-stack releases shipped "prom-operator".
    "kube-prometheus-stack": AdminCredentials(
        password=("grafana", "adminPassword"),
        secret=("grafana", "admin", "existingSecret"),
        enabled=("grafana", "enabled"),
        well_known_default="prom-operator",
    ),
    "grafana": AdminCredentials(
        password=("adminPassword",),
        secret=("admin", "existingSecret"),
    ),
    # MLflow's basic-auth admin, when authentication is on.
    "mlflow": AdminCredentials(
        password=("auth", "adminPassword"),
        secret=("auth", "existingAdminSecret", "name"),
        enabled=("auth", "enabled"),
        enabled_by_default=False,
    ),
}


def _validate_admin_credentials(args: ResourceValidationArgs, report: Report) -> None:
    chart = chart_name(prop(args.props, "chart"))
    spec = ADMIN_CREDENTIALS.get(chart)
    if spec is None:
        return
    values = _values(args)
    if spec.enabled is not None:
        enabled = get_path(values, spec.enabled)
        if (spec.enabled_by_default and enabled is False) or (
            not spec.enabled_by_default and enabled is not True
        ):
            return
    password = get_path(values, spec.password)
    if isinstance(password, str) and password:
        known = spec.well_known_default is not None and password == spec.well_known_default
        what = "the well-known chart default" if known else "a plaintext password"
        report(
            f"{chart}: {'.'.join(spec.password)} is {what} in the release values (stored in "
            "the Helm release and the stack state)"
        )
    secret = get_path(values, spec.secret)
    if not isinstance(secret, str) or not secret.strip():
        report(
            f"{chart}: {'.'.join(spec.secret)} is not set, so the admin credentials do not "
            "come from a Secret the platform controls"
        )


ADMIN_CREDENTIALS_FROM_SECRET = Rule(
    name="helm-admin-credentials-from-existing-secret",
    description=(
        "Charts with a built-in admin account (Grafana in kube-prometheus-stack, MLflow with "
        "authentication) read its credentials from an existing Secret, never from a "
        "plaintext or default password in the values."
    ),
    remediation=(
        "Create the credentials in a Secret (a generated password) and point the chart at it: "
        "grafana.admin.existingSecret for kube-prometheus-stack (as MonitoringStack does), "
        "auth.existingAdminSecret.name for mlflow (as ModelRegistry does); leave "
        "grafana.adminPassword and auth.adminPassword unset."
    ),
    severity="high",
    controls={
        "nist-800-53": ("IA-5", "AC-2"),
        "hipaa": ("164.312(d)", "164.312(a)(1)"),
        "gdpr": ("Art. 32",),
        "dpdp": ("Sec. 8(5)",),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=HELM_RELEASE_TYPES,
    validate_resource=_validate_admin_credentials,
)


# --- security contexts -----------------------------------------------------------------------

ContextKind = Literal["pod", "container"]


@dataclass(frozen=True)
class SecurityContextPath:
    """A security context a chart's values must set: a pod or a container context."""

    path: tuple[str, ...]
    kind: ContextKind


def _pod(*path: str) -> SecurityContextPath:
    return SecurityContextPath(path, "pod")


def _container(*path: str) -> SecurityContextPath:
    return SecurityContextPath(path, "container")


# The contexts each chart leaves empty or incomplete upstream, for the workloads we run with
# it. Charts absent here ship restricted contexts already (argo-cd's per-component
# containerSecurityContext, kube-prometheus-stack, cert-manager, kserve-resources) or
# hard-code them in their templates (karpenter). dcgm-exporter is absent on purpose: it needs
# root and SYS_ADMIN for profiling metrics, which its upstream default grants and nothing else.
# Device plugins run as root to serve the kubelet's socket, so only their container context is
# required (no privilege escalation, every capability dropped), as in the vendors' manifests.
REQUIRED_SECURITY_CONTEXTS: Final[Mapping[str, tuple[SecurityContextPath, ...]]] = {
    # Upstream sets fsGroup only: no runAsNonRoot, no seccomp profile.
    "mlflow": (_pod("podSecurityContext"),),
    # Upstream: both empty.
    "opencost": (_pod("podSecurityContext"), _container("opencost", "exporter", "securityContext")),
    "feast-feature-server": (_pod("podSecurityContext"), _container("securityContext")),
    "nvidia-device-plugin": (_container("securityContext"),),
    "neuron-helm-chart": (_container("devicePlugin", "securityContext"),),
}

_SECCOMP_TYPES: Final = ("RuntimeDefault", "Localhost")


def _pod_context_problems(context: Mapping[str, Any]) -> list[str]:
    problems = []
    if get_path(context, ("runAsNonRoot",)) is not True:
        problems.append("runAsNonRoot is not true")
    if get_path(context, ("seccompProfile", "type")) not in _SECCOMP_TYPES:
        problems.append("seccompProfile.type is not RuntimeDefault or Localhost")
    return problems


def _drops_all(context: Mapping[str, Any]) -> bool:
    drop = get_path(context, ("capabilities", "drop"))
    return any(str(item).upper() == "ALL" for item in iter_list(drop))


def _container_context_problems(context: Mapping[str, Any]) -> list[str]:
    problems = []
    if get_path(context, ("allowPrivilegeEscalation",)) is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if not _drops_all(context):
        problems.append("capabilities.drop does not include ALL")
    if get_path(context, ("privileged",)) is True:
        problems.append("privileged is true")
    return problems


def _validate_required_contexts(args: ResourceValidationArgs, report: Report) -> None:
    chart = chart_name(prop(args.props, "chart"))
    required = REQUIRED_SECURITY_CONTEXTS.get(chart, ())
    values = _values(args)
    for item in required:
        where = ".".join(item.path)
        context = get_path(values, item.path)
        if not isinstance(context, Mapping) or not context:
            report(f"{chart}: {where} is not set (the chart's default leaves it empty)")
            continue
        problems = (
            _pod_context_problems(context)
            if item.kind == "pod"
            else _container_context_problems(context)
        )
        if problems:
            report(f"{chart}: {where}: {'; '.join(problems)}")


SECURITY_CONTEXTS_SET = Rule(
    name="helm-values-set-restricted-security-contexts",
    description=(
        "Charts whose upstream defaults leave pod or container security contexts empty get "
        "restricted ones from the release values: pods run as non-root with a seccomp "
        "profile, containers cannot escalate privileges and drop every capability."
    ),
    remediation=(
        "Set the chart's security contexts in the component's values (e.g. "
        "RESTRICTED_POD_SECURITY_CONTEXT / RESTRICTED_CONTAINER_SECURITY_CONTEXT from "
        "components/kubernetes): mlflow podSecurityContext, opencost podSecurityContext and "
        "opencost.exporter.securityContext, nvidia-device-plugin securityContext, "
        "neuron-helm-chart devicePlugin.securityContext."
    ),
    severity="high",
    controls={
        "cis-eks": ("4.6.3", "4.2.5", "4.2.6", "4.6.2"),
        "nist-800-53": ("AC-6", "CM-6", "SC-39"),
        "gdpr": ("Art. 32",),
        "dpdp": ("Sec. 8(5)",),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=HELM_RELEASE_TYPES,
    validate_resource=_validate_required_contexts,
)

_HOST_NAMESPACES: Final = ("hostNetwork", "hostPID", "hostIPC")
# The one capability a non-root process may need to bind ports below 1024.
_HARMLESS_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})


def _weakened(context: Mapping[str, Any]) -> list[str]:
    found = []
    if get_path(context, ("privileged",)) is True:
        found.append("privileged: true")
    if get_path(context, ("allowPrivilegeEscalation",)) is True:
        found.append("allowPrivilegeEscalation: true")
    if get_path(context, ("runAsNonRoot",)) is False:
        found.append("runAsNonRoot: false")
    user = get_path(context, ("runAsUser",))
    if isinstance(user, int | float) and not isinstance(user, bool) and user == 0:
        found.append("runAsUser: 0")
    added = get_path(context, ("capabilities", "add"))
    extra = sorted({str(c).upper() for c in iter_list(added)} - _HARMLESS_CAPABILITIES)
    if extra:
        found.append(f"capabilities.add: {', '.join(extra)}")
    return found


def _validate_not_weakened(args: ResourceValidationArgs, report: Report) -> None:
    chart = chart_name(prop(args.props, "chart"))
    for path, mapping in walk(_values(args)):
        key = path[-1] if path else ""
        if isinstance(key, str) and key.lower().endswith("securitycontext"):
            for problem in _weakened(mapping):
                report(f"{chart}: {dotted(path)} sets {problem}")
        for host in _HOST_NAMESPACES:
            if get_path(mapping, (host,)) is True:
                report(f"{chart}: {dotted((*path, host))} is true (shares the node's namespace)")


SECURITY_CONTEXTS_NOT_WEAKENED = Rule(
    name="helm-values-keep-pods-unprivileged",
    description=(
        "No release values make a chart's pods privileged: no privileged or root containers, "
        "no privilege escalation, no added capabilities beyond NET_BIND_SERVICE, no host "
        "network, PID or IPC namespaces."
    ),
    remediation=(
        "Remove the setting from the component's Helm values; if a node agent truly needs it, "
        "rely on the chart's upstream default for that agent and record a suppression with "
        "the reason."
    ),
    severity="high",
    controls={
        "cis-eks": ("4.2.1", "4.2.2", "4.2.3", "4.2.4", "4.2.5", "4.2.6", "4.2.7"),
        "nist-800-53": ("AC-6", "CM-7", "SC-39"),
        "gdpr": ("Art. 32",),
        "dpdp": ("Sec. 8(5)",),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=HELM_RELEASE_TYPES,
    validate_resource=_validate_not_weakened,
)


# --- services stay inside the cluster ---------------------------------------------------------

_EXTERNAL_TYPES: Final = frozenset({"LoadBalancer", "NodePort"})

# Service blocks whose upstream default type is external: enabling them without a type
# exposes them. kube-prometheus-stack's Thanos sidecar service defaults to LoadBalancer.
EXTERNAL_SERVICE_DEFAULTS: Final[Mapping[str, Mapping[tuple[str, ...], str]]] = {
    "kube-prometheus-stack": {("prometheus", "thanosServiceExternal"): "LoadBalancer"},
}


def _validate_services_internal(args: ResourceValidationArgs, report: Report) -> None:
    chart = chart_name(prop(args.props, "chart"))
    values = _values(args)
    disabled: list[tuple[str | int, ...]] = []
    for path, mapping in walk(values):
        # A block switched off (and everything inside it) renders no Service.
        if get_path(mapping, ("enabled",)) is False:
            disabled.append(path)
        if any(path[: len(off)] == off for off in disabled):
            continue
        key = path[-1] if path else ""
        service_type = get_path(mapping, ("type",))
        if (
            isinstance(key, str)
            and "service" in key.lower()
            and isinstance(service_type, str)
            and service_type in _EXTERNAL_TYPES
        ):
            report(f"{chart}: {dotted((*path, 'type'))} is {service_type}")
        for name in mapping:
            if isinstance(name, str) and name.lower() == "servicetype":
                value = get_path(mapping, (name,))
                if isinstance(value, str) and value in _EXTERNAL_TYPES:
                    report(f"{chart}: {dotted((*path, name))} is {value}")
    for path, default in EXTERNAL_SERVICE_DEFAULTS.get(chart, {}).items():
        block = get_path(values, path)
        if (
            isinstance(block, Mapping)
            and get_path(block, ("enabled",)) is True
            and get_path(block, ("type",)) is None
        ):
            report(f"{chart}: {'.'.join(path)} is enabled with the chart's default type {default}")


SERVICES_INTERNAL = Rule(
    name="helm-release-services-stay-cluster-internal",
    description=(
        "Helm release values never expose a chart's Services as LoadBalancer or NodePort "
        "(Grafana, Prometheus, Argo CD, MLflow, OpenCost and the rest stay ClusterIP)."
    ),
    remediation=(
        "Set the service type to ClusterIP (e.g. grafana.service.type, server.service.type "
        "for argo-cd) and reach the UI through kubectl port-forward or an authenticated, "
        "TLS-terminating ingress the platform manages."
    ),
    severity="high",
    controls={
        "nist-800-53": ("SC-7", "AC-4", "CM-7"),
        "hipaa": ("164.312(a)(1)", "164.312(e)(1)"),
        "gdpr": ("Art. 25", "Art. 32"),
        "dpdp": ("Sec. 8(5)",),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=HELM_RELEASE_TYPES,
    validate_resource=_validate_services_internal,
)

RULES: Final[tuple[Rule, ...]] = (
    CHART_PINNED,
    ADMIN_CREDENTIALS_FROM_SECRET,
    SECURITY_CONTEXTS_SET,
    SECURITY_CONTEXTS_NOT_WEAKENED,
    SERVICES_INTERNAL,
)
