"""Pod Security Standards, one rule per check, honouring each namespace's enforced level.

The checks follow the upstream Pod Security admission controller (Kubernetes 1.35): the
``pss-baseline-*`` rules apply to pods in namespaces that enforce ``baseline`` or
``restricted``, the ``pss-restricted-*`` rules only where ``restricted`` is enforced.

The level comes from the ``pod-security.kubernetes.io/enforce`` label of the Namespace object
the stack creates (``WorkloadNamespace(pod_security=...)``). A namespace without the label, with
a value Kubernetes does not know, or not created by the stack at all, counts as
``restricted``: that is what every platform namespace enforces unless it says otherwise, and
it keeps a typo from silently exempting pods. Cluster-wide KServe runtimes serve any namespace
and are held to ``restricted``. The rules are stack rules because the level lives on another
object; each finding names the workload's URN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from mlops_blueprints.policies._rule import Rule, Severity, StackValidate, iter_list
from pulumi_policy import StackValidationArgs

from .._rule import Report
from ._mapping import KUBERNETES_TAG, controls
from ._workloads import (
    DEFAULT_POD_SECURITY_LEVEL,
    NAMESPACE,
    WORKLOAD_TYPES,
    PodSecurityLevel,
    PodSpec,
    namespace_levels,
    pod_specs,
)

__all__ = ["BASELINE_TAG", "POD_SECURITY_RULES", "RESTRICTED_TAG"]

BASELINE_TAG: Final = "pss-baseline"
RESTRICTED_TAG: Final = "pss-restricted"

# Capabilities a container may add under baseline (the container runtime's default set).
BASELINE_CAPABILITIES: Final[frozenset[str]] = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_ADDABLE_CAPABILITIES: Final[frozenset[str]] = frozenset({"NET_BIND_SERVICE"})
# Namespaced sysctls isolated from other pods on the node (as of Kubernetes 1.32).
SAFE_SYSCTLS: Final[frozenset[str]] = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)
SELINUX_TYPES: Final[frozenset[str]] = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
CONFINED_PROFILE_TYPES: Final[frozenset[str]] = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION_PREFIX: Final = "container.apparmor.security.beta.kubernetes.io/"
RESTRICTED_VOLUME_SOURCES: Final[frozenset[str]] = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)

_RESTRICTED_CONTEXT = (
    "the restricted security contexts of components/kubernetes "
    "(RESTRICTED_POD_SECURITY_CONTEXT, RESTRICTED_CONTAINER_SECURITY_CONTEXT)"
)
_EXEMPT = (
    "A node agent that truly needs it runs in a namespace created with "
    "WorkloadNamespace(pod_security='privileged')"
)

Check = Callable[[PodSpec], list[str]]


def _applies(rule_level: PodSecurityLevel, enforced: PodSecurityLevel) -> bool:
    if rule_level == "restricted":
        return enforced == "restricted"
    return enforced in ("baseline", "restricted")


def _pss_validate(rule_level: PodSecurityLevel, check: Check) -> StackValidate:
    def validate(args: StackValidationArgs, report: Report) -> None:
        levels = namespace_levels(args.resources)
        for resource in args.resources:
            if resource.resource_type not in WORKLOAD_TYPES:
                continue
            findings = []
            for pod in pod_specs(resource.resource_type, resource.props):
                if pod.namespace is None:
                    enforced, scope = DEFAULT_POD_SECURITY_LEVEL, "cluster-wide runtime"
                else:
                    enforced = levels.get(pod.namespace, DEFAULT_POD_SECURITY_LEVEL)
                    scope = f"namespace {pod.namespace!r}"
                if not _applies(rule_level, enforced):
                    continue
                problems = check(pod)
                if problems:
                    findings.append(
                        f"{pod.where} ({scope} enforces {enforced}): " + "; ".join(problems)
                    )
            if findings:
                report(" | ".join(findings), resource.urn)

    return validate


def _rule(
    *,
    name: str,
    level: PodSecurityLevel,
    description: str,
    remediation: str,
    severity: Severity,
    controls_: Mapping[Any, tuple[str, ...]],
    check: Check,
) -> Rule:
    return Rule(
        name=name,
        description=description,
        remediation=remediation,
        severity=severity,
        controls=controls_,
        resource_types=(*WORKLOAD_TYPES, NAMESPACE),
        validate_stack=_pss_validate(level, check),
        tags=(BASELINE_TAG if level == "baseline" else RESTRICTED_TAG, KUBERNETES_TAG),
    )


def _is_nonzero_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value != 0


def _is_zero(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def _strings(value: Any) -> Iterator[str]:
    for item in iter_list(value):
        if isinstance(item, str):
            yield item


# --- baseline checks --------------------------------------------------------------------


def _privileged(pod: PodSpec) -> list[str]:
    return [
        f"container {c.label} sets securityContext.privileged: true"
        for c in pod.containers
        if c.security("privileged") is True
    ]


def _host_namespaces(pod: PodSpec) -> list[str]:
    return [
        f"pod sets {field}: true"
        for field in ("hostNetwork", "hostPID", "hostIPC")
        if pod.get(field) is True
    ]


def _host_path(pod: PodSpec) -> list[str]:
    return [
        f"volume {v.get('name', '?')!r} is a hostPath volume"
        for v in pod.volumes()
        if "hostPath" in v
    ]


def _host_ports(pod: PodSpec) -> list[str]:
    problems = []
    for c in pod.containers:
        for port in iter_list(c.get("ports")):
            host_port = port.get("hostPort") if isinstance(port, Mapping) else None
            if _is_nonzero_number(host_port):
                problems.append(f"container {c.label} binds hostPort {host_port:g}")
    return problems


def _added_capabilities(pod: PodSpec, allowed: frozenset[str]) -> list[str]:
    problems = []
    for c in pod.containers:
        extra = sorted(set(_strings(c.security("capabilities", "add"))) - allowed)
        if extra:
            problems.append(f"container {c.label} adds capabilities {', '.join(extra)}")
    return problems


def _baseline_capabilities(pod: PodSpec) -> list[str]:
    return _added_capabilities(pod, BASELINE_CAPABILITIES)


def _sysctls(pod: PodSpec) -> list[str]:
    names = []
    for sysctl in iter_list(pod.security("sysctls")):
        name = sysctl.get("name") if isinstance(sysctl, Mapping) else None
        if isinstance(name, str) and name not in SAFE_SYSCTLS:
            names.append(name)
    return [f"pod sets unsafe sysctls {', '.join(sorted(names))}"] if names else []


def _seccomp_unconfined(pod: PodSpec) -> list[str]:
    problems = []
    if pod.security("seccompProfile", "type") == "Unconfined":
        problems.append("pod sets seccompProfile.type: Unconfined")
    problems.extend(
        f"container {c.label} sets seccompProfile.type: Unconfined"
        for c in pod.containers
        if c.security("seccompProfile", "type") == "Unconfined"
    )
    return problems


def _proc_mount(pod: PodSpec) -> list[str]:
    return [
        f"container {c.label} sets procMount: {c.security('procMount')}"
        for c in pod.containers
        if c.security("procMount") not in (None, "Default")
    ]


def _apparmor(pod: PodSpec) -> list[str]:
    problems = []
    pod_type = pod.security("appArmorProfile", "type")
    if pod_type is not None and pod_type not in CONFINED_PROFILE_TYPES:
        problems.append(f"pod sets appArmorProfile.type: {pod_type}")
    for c in pod.containers:
        container_type = c.security("appArmorProfile", "type")
        if container_type is not None and container_type not in CONFINED_PROFILE_TYPES:
            problems.append(f"container {c.label} sets appArmorProfile.type: {container_type}")
    annotations = pod.metadata.get("annotations")
    if isinstance(annotations, Mapping):
        for key in sorted(k for k in annotations if k.startswith(APPARMOR_ANNOTATION_PREFIX)):
            value = annotations[key]
            if value and value != "runtime/default" and not str(value).startswith("localhost/"):
                problems.append(f"annotation {key}={value}")
    return problems


def _selinux_problem(options: Any) -> str:
    if not isinstance(options, Mapping):
        return ""
    bad = []
    selinux_type = options.get("type") or ""
    if selinux_type not in SELINUX_TYPES:
        bad.append(f"type {selinux_type}")
    bad.extend(f"{field} {options[field]}" for field in ("user", "role") if options.get(field))
    return ", ".join(bad)


def _selinux(pod: PodSpec) -> list[str]:
    problems = []
    found = _selinux_problem(pod.security("seLinuxOptions"))
    if found:
        problems.append(f"pod sets seLinuxOptions {found}")
    for c in pod.containers:
        found = _selinux_problem(c.security("seLinuxOptions"))
        if found:
            problems.append(f"container {c.label} sets seLinuxOptions {found}")
    return problems


def _host_process(pod: PodSpec) -> list[str]:
    problems = []
    if pod.security("windowsOptions", "hostProcess") is True:
        problems.append("pod sets windowsOptions.hostProcess: true")
    problems.extend(
        f"container {c.label} sets windowsOptions.hostProcess: true"
        for c in pod.containers
        if c.security("windowsOptions", "hostProcess") is True
    )
    return problems


_HOST_FIELD_HANDLERS: Final[tuple[tuple[str, ...], ...]] = (
    ("livenessProbe",),
    ("readinessProbe",),
    ("startupProbe",),
    ("lifecycle", "postStart"),
    ("lifecycle", "preStop"),
)


def _probe_hosts(pod: PodSpec) -> list[str]:
    problems = []
    for c in pod.containers:
        for path in _HOST_FIELD_HANDLERS:
            for action in ("httpGet", "tcpSocket"):
                host = c.get(*path, action, "host")
                if host:
                    problems.append(f"container {c.label} {'.'.join(path)}.{action}.host: {host}")
    return problems


# --- restricted checks ------------------------------------------------------------------


def _user_namespaced(pod: PodSpec) -> bool:
    # Pods in their own user namespace run as root only inside it (KEP-127).
    return pod.get("hostUsers") is False


def _non_root(pod: PodSpec) -> list[str]:
    if _user_namespaced(pod):
        return []
    problems = []
    pod_non_root = pod.security("runAsNonRoot")
    if pod_non_root is False:
        problems.append("pod sets runAsNonRoot: false")
    if _is_zero(pod.security("runAsUser")):
        problems.append("pod sets runAsUser: 0")
    for c in pod.containers:
        value = c.security("runAsNonRoot")
        if value is False:
            problems.append(f"container {c.label} sets runAsNonRoot: false")
        elif value is None and pod_non_root is not True and not c.from_runtime:
            problems.append(f"neither the pod nor container {c.label} sets runAsNonRoot: true")
        if _is_zero(c.security("runAsUser")):
            problems.append(f"container {c.label} sets runAsUser: 0")
    return problems


def _privilege_escalation(pod: PodSpec) -> list[str]:
    problems = []
    for c in pod.containers:
        value = c.security("allowPrivilegeEscalation")
        if value is False or (value is None and c.from_runtime):
            continue
        problems.append(f"container {c.label} does not set allowPrivilegeEscalation: false")
    return problems


def _dropped_capabilities(pod: PodSpec) -> list[str]:
    problems = _added_capabilities(pod, RESTRICTED_ADDABLE_CAPABILITIES)
    for c in pod.containers:
        drop = c.security("capabilities", "drop")
        if drop is None and c.from_runtime:
            continue
        if "ALL" not in set(_strings(drop)):
            problems.append(f"container {c.label} does not drop ALL capabilities")
    return problems


def _seccomp_set(pod: PodSpec) -> list[str]:
    problems = []
    pod_type = pod.security("seccompProfile", "type")
    if pod_type is not None and pod_type not in CONFINED_PROFILE_TYPES:
        problems.append(f"pod sets seccompProfile.type: {pod_type}")
    pod_confined = pod_type in CONFINED_PROFILE_TYPES
    for c in pod.containers:
        container_type = c.security("seccompProfile", "type")
        if container_type is None:
            if not pod_confined and not c.from_runtime:
                problems.append(
                    f"neither the pod nor container {c.label} sets seccompProfile.type "
                    "RuntimeDefault or Localhost"
                )
        elif container_type not in CONFINED_PROFILE_TYPES:
            problems.append(f"container {c.label} sets seccompProfile.type: {container_type}")
    return problems


def _volume_types(pod: PodSpec) -> list[str]:
    problems = []
    for volume in pod.volumes():
        sources = sorted(key for key in volume if key != "name")
        other = [s for s in sources if s not in RESTRICTED_VOLUME_SOURCES]
        if other:
            problems.append(f"volume {volume.get('name', '?')!r} uses {', '.join(other)}")
    return problems


# CIS EKS 4.6.3: apply a security context to pods and containers.
_SECURITY_CONTEXT_CIS: Final = ("4.6.3",)

POD_SECURITY_RULES: Final[tuple[Rule, ...]] = (
    _rule(
        name="pss-baseline-containers-not-privileged",
        level="baseline",
        description="No container runs privileged (Pod Security baseline: Privileged Containers).",
        remediation=(
            f"Remove securityContext.privileged or set it to false; use {_RESTRICTED_CONTEXT}. "
            f"{_EXEMPT}."
        ),
        severity="critical",
        controls_=controls(cis=("4.2.1",), nist=("AC-6", "CM-7", "SC-39")),
        check=_privileged,
    ),
    _rule(
        name="pss-baseline-host-namespaces-not-shared",
        level="baseline",
        description=(
            "Pods share neither the node's network, process ID nor IPC namespace "
            "(Pod Security baseline: Host Namespaces)."
        ),
        remediation=(
            "Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false); "
            f"expose ports through a Service instead. {_EXEMPT}."
        ),
        severity="high",
        controls_=controls(cis=("4.2.2", "4.2.3", "4.2.4"), nist=("AC-6", "SC-7", "SC-39")),
        check=_host_namespaces,
    ),
    _rule(
        name="pss-baseline-no-host-path-volumes",
        level="baseline",
        description="Pods mount no hostPath volumes (Pod Security baseline: HostPath Volumes).",
        remediation=(
            "Replace hostPath volumes with emptyDir, a PersistentVolumeClaim, a ConfigMap or a "
            f"Secret. {_EXEMPT}."
        ),
        severity="high",
        controls_=controls(nist=("AC-6", "CM-7", "SC-39")),
        check=_host_path,
    ),
    _rule(
        name="pss-baseline-no-host-ports",
        level="baseline",
        description="No container binds a port on the node (Pod Security baseline: Host Ports).",
        remediation=(
            "Remove ports[*].hostPort (or set it to 0) and reach the pod through a Service and "
            f"a NetworkPolicy. {_EXEMPT}."
        ),
        severity="medium",
        controls_=controls(nist=("CM-7", "SC-7")),
        check=_host_ports,
    ),
    _rule(
        name="pss-baseline-capabilities-within-defaults",
        level="baseline",
        description=(
            "Containers add no Linux capabilities beyond the container runtime's default set "
            "(Pod Security baseline: Capabilities)."
        ),
        remediation=(
            "Remove capabilities outside AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, "
            "MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT from "
            f"securityContext.capabilities.add. {_EXEMPT}."
        ),
        severity="high",
        controls_=controls(cis=("4.2.7",), nist=("AC-6", "CM-7")),
        check=_baseline_capabilities,
    ),
    _rule(
        name="pss-baseline-sysctls-safe",
        level="baseline",
        description=(
            "Pods set only namespaced sysctls isolated from other pods "
            "(Pod Security baseline: Sysctls)."
        ),
        remediation=(
            "Remove securityContext.sysctls entries outside the safe set (kernel.shm_rmid_forced "
            "and the net.ipv4 port-range, keepalive, syncookies, ping-group and buffer sysctls); "
            "tune the node instead."
        ),
        severity="medium",
        controls_=controls(cis=_SECURITY_CONTEXT_CIS, nist=("CM-7", "SC-39")),
        check=_sysctls,
    ),
    _rule(
        name="pss-baseline-seccomp-not-unconfined",
        level="baseline",
        description=(
            "Neither the pod nor any container turns seccomp off (Pod Security baseline: Seccomp)."
        ),
        remediation=(
            "Set seccompProfile.type to RuntimeDefault (or Localhost) instead of Unconfined; use "
            f"{_RESTRICTED_CONTEXT}."
        ),
        severity="high",
        controls_=controls(cis=("4.6.2",), nist=("CM-7", "SC-39")),
        check=_seccomp_unconfined,
    ),
    _rule(
        name="pss-baseline-proc-mount-default",
        level="baseline",
        description=(
            "Containers keep the default masked /proc mount (Pod Security baseline: /proc Mount "
            "Type)."
        ),
        remediation="Remove securityContext.procMount or set it to Default.",
        severity="medium",
        controls_=controls(cis=_SECURITY_CONTEXT_CIS, nist=("SC-39",)),
        check=_proc_mount,
    ),
    _rule(
        name="pss-baseline-apparmor-not-unconfined",
        level="baseline",
        description=(
            "Neither the pod nor any container disables or overrides the runtime's AppArmor "
            "profile with an unconfined one (Pod Security baseline: AppArmor)."
        ),
        remediation=(
            "Set appArmorProfile.type to RuntimeDefault or Localhost (or leave it unset) and "
            "drop container.apparmor.security.beta.kubernetes.io annotations other than "
            "runtime/default or localhost/<profile>."
        ),
        severity="medium",
        controls_=controls(cis=_SECURITY_CONTEXT_CIS, nist=("SC-39",)),
        check=_apparmor,
    ),
    _rule(
        name="pss-baseline-selinux-options-confined",
        level="baseline",
        description=(
            "Pods and containers set no custom SELinux user or role and only container SELinux "
            "types (Pod Security baseline: SELinux)."
        ),
        remediation=(
            "Remove seLinuxOptions.user and .role, and keep seLinuxOptions.type unset or one of "
            "container_t, container_init_t, container_kvm_t, container_engine_t."
        ),
        severity="medium",
        controls_=controls(cis=_SECURITY_CONTEXT_CIS, nist=("AC-6", "SC-39")),
        check=_selinux,
    ),
    _rule(
        name="pss-baseline-no-windows-host-process",
        level="baseline",
        description=(
            "No pod or container runs as a Windows host process "
            "(Pod Security baseline: HostProcess)."
        ),
        remediation="Remove securityContext.windowsOptions.hostProcess or set it to false.",
        severity="high",
        controls_=controls(cis=("4.2.1",), nist=("AC-6", "SC-39")),
        check=_host_process,
    ),
    _rule(
        name="pss-baseline-probes-target-own-pod",
        level="baseline",
        description=(
            "Probes and lifecycle hooks address the pod itself, never another host "
            "(Pod Security baseline: Probes and Lifecycle Hooks host field)."
        ),
        remediation=(
            "Remove the host field from httpGet and tcpSocket probes and lifecycle handlers; "
            "they then target the pod's own IP."
        ),
        severity="medium",
        controls_=controls(nist=("AC-4", "SC-7")),
        check=_probe_hosts,
    ),
    _rule(
        name="pss-restricted-runs-as-non-root",
        level="restricted",
        description=(
            "Every container runs as a non-root user: runAsNonRoot is true for the pod or "
            "each container and no runAsUser is 0 (Pod Security restricted: Running as Non-root)."
        ),
        remediation=(
            f"Use {_RESTRICTED_CONTEXT}: runAsNonRoot: true with a non-zero runAsUser, and an "
            "image that works as that user."
        ),
        severity="high",
        controls_=controls(cis=("4.2.6",), nist=("AC-6", "SC-39")),
        check=_non_root,
    ),
    _rule(
        name="pss-restricted-privilege-escalation-disabled",
        level="restricted",
        description=(
            "Every container sets allowPrivilegeEscalation: false "
            "(Pod Security restricted: Privilege Escalation)."
        ),
        remediation=(
            "Set securityContext.allowPrivilegeEscalation: false on each container; "
            f"use {_RESTRICTED_CONTEXT}."
        ),
        severity="high",
        controls_=controls(cis=("4.2.5",), nist=("AC-6",)),
        check=_privilege_escalation,
    ),
    _rule(
        name="pss-restricted-capabilities-dropped",
        level="restricted",
        description=(
            "Every container drops ALL capabilities and adds back at most NET_BIND_SERVICE "
            "(Pod Security restricted: Capabilities)."
        ),
        remediation=(
            "Set securityContext.capabilities.drop: [ALL] and add nothing but NET_BIND_SERVICE; "
            f"use {_RESTRICTED_CONTEXT}."
        ),
        severity="medium",
        controls_=controls(cis=("4.2.7", "4.2.8"), nist=("AC-6", "CM-7")),
        check=_dropped_capabilities,
    ),
    _rule(
        name="pss-restricted-seccomp-profile-set",
        level="restricted",
        description=(
            "Every container runs under the RuntimeDefault or a Localhost seccomp profile, set "
            "on the pod or the container (Pod Security restricted: Seccomp)."
        ),
        remediation=(
            "Set securityContext.seccompProfile.type: RuntimeDefault on the pod (or on each "
            f"container); use {_RESTRICTED_CONTEXT}."
        ),
        severity="medium",
        controls_=controls(cis=("4.6.2",), nist=("CM-7", "SC-39")),
        check=_seccomp_set,
    ),
    _rule(
        name="pss-restricted-volume-types-allowed",
        level="restricted",
        description=(
            "Pods mount only configMap, csi, downwardAPI, emptyDir, ephemeral, "
            "persistentVolumeClaim, projected and secret volumes (Pod Security restricted: "
            "Volume Types)."
        ),
        remediation=(
            "Replace other volume sources with a PersistentVolumeClaim (backed by a "
            "PersistentVolume or StorageClass) or one of the allowed types."
        ),
        severity="medium",
        controls_=controls(nist=("AC-6", "CM-7", "SC-39")),
        check=_volume_types,
    ),
)
