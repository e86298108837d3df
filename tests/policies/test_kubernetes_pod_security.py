"""Pod Security Standards rules: each check fires on its field, and only where enforced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mlops_blueprints.components.kubernetes import RESTRICTED_CONTAINER_SECURITY_CONTEXT
from mlops_blueprints.policies._rule import Rule
from mlops_blueprints.policies.kubernetes import BASELINE_TAG, RESTRICTED_TAG, RULES
from mlops_blueprints.policies.kubernetes._pod_security import POD_SECURITY_RULES

from ._helpers import assert_complies, assert_violates, violations
from ._kubernetes import (
    CLUSTER_SERVING_RUNTIME,
    DAEMON_SET,
    DEPLOYMENT,
    INFERENCE_SERVICE,
    JOB,
    SERVING_RUNTIME,
    TEMPLATED_KINDS,
    container,
    namespace,
    pod_spec,
    workload,
)

pytestmark = pytest.mark.policy

RULE = {rule.name: rule for rule in RULES}
BASELINE = [rule for rule in POD_SECURITY_RULES if BASELINE_TAG in rule.tags]
RESTRICTED = [rule for rule in POD_SECURITY_RULES if RESTRICTED_TAG in rule.tags]

Spec = dict[str, Any]


def _first(spec: Spec) -> dict[str, Any]:
    first: dict[str, Any] = spec["containers"][0]
    return first


def _set_container(**fields: Any) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        _first(spec).update(fields)

    return change


def _set_security(**fields: Any) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        _first(spec)["securityContext"].update(fields)

    return change


def _drop_security(*keys: str, pod: bool = False) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        target = spec["securityContext"] if pod else _first(spec)["securityContext"]
        for key in keys:
            del target[key]

    return change


def _set_pod(**fields: Any) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        spec.update(fields)

    return change


def _set_pod_security(**fields: Any) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        spec["securityContext"].update(fields)

    return change


def _add_volume(volume: dict[str, Any]) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        spec["volumes"].append(volume)

    return change


def _drop_non_root_everywhere(spec: Spec) -> None:
    del spec["securityContext"]["runAsNonRoot"]
    del _first(spec)["securityContext"]["runAsNonRoot"]


def _drop_seccomp_everywhere(spec: Spec) -> None:
    del spec["securityContext"]["seccompProfile"]
    del _first(spec)["securityContext"]["seccompProfile"]


def _root_in_user_namespace(spec: Spec) -> None:
    _drop_non_root_everywhere(spec)
    spec["hostUsers"] = False


def _node_agent(spec: Spec) -> None:
    spec["hostNetwork"] = True
    del spec["securityContext"]
    spec["volumes"] = [{"name": "dev", "hostPath": {"path": "/dev"}}]
    _first(spec)["securityContext"] = {"privileged": True}


def _changed(change: Callable[[Spec], None]) -> Spec:
    spec = pod_spec()
    change(spec)
    return spec


# (rule, change that breaks it, fragment of the finding)
BREAKS: list[tuple[str, Callable[[Spec], None], str]] = [
    ("pss-baseline-containers-not-privileged", _set_security(privileged=True), "privileged"),
    ("pss-baseline-host-namespaces-not-shared", _set_pod(hostNetwork=True), "hostNetwork"),
    ("pss-baseline-host-namespaces-not-shared", _set_pod(hostPID=True), "hostPID"),
    ("pss-baseline-host-namespaces-not-shared", _set_pod(hostIPC=True), "hostIPC"),
    (
        "pss-baseline-no-host-path-volumes",
        _add_volume({"name": "docker", "hostPath": {"path": "/var/run"}}),
        "'docker'",
    ),
    (
        "pss-baseline-no-host-ports",
        _set_container(ports=[{"containerPort": 8080, "hostPort": 8080}]),
        "hostPort 8080",
    ),
    (
        "pss-baseline-capabilities-within-defaults",
        _set_security(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN", "CHOWN"]}),
        "SYS_ADMIN",
    ),
    (
        "pss-baseline-sysctls-safe",
        _set_pod_security(sysctls=[{"name": "kernel.msgmax", "value": "65536"}]),
        "kernel.msgmax",
    ),
    (
        "pss-baseline-seccomp-not-unconfined",
        _set_pod_security(seccompProfile={"type": "Unconfined"}),
        "pod sets seccompProfile.type: Unconfined",
    ),
    (
        "pss-baseline-seccomp-not-unconfined",
        _set_security(seccompProfile={"type": "Unconfined"}),
        "container 'app'",
    ),
    ("pss-baseline-proc-mount-default", _set_security(procMount="Unmasked"), "Unmasked"),
    (
        "pss-baseline-apparmor-not-unconfined",
        _set_security(appArmorProfile={"type": "Unconfined"}),
        "appArmorProfile.type: Unconfined",
    ),
    (
        "pss-baseline-apparmor-not-unconfined",
        _set_pod_security(appArmorProfile={"type": "Unconfined"}),
        "pod sets appArmorProfile",
    ),
    (
        "pss-baseline-selinux-options-confined",
        _set_security(seLinuxOptions={"type": "spc_t"}),
        "type spc_t",
    ),
    (
        "pss-baseline-selinux-options-confined",
        _set_pod_security(seLinuxOptions={"user": "system_u", "type": "container_t"}),
        "user system_u",
    ),
    (
        "pss-baseline-no-windows-host-process",
        _set_security(windowsOptions={"hostProcess": True}),
        "hostProcess",
    ),
    (
        "pss-baseline-probes-target-own-pod",
        _set_container(livenessProbe={"httpGet": {"host": "10.0.0.1", "port": 80}}),
        "livenessProbe.httpGet.host: 10.0.0.1",
    ),
    (
        "pss-baseline-probes-target-own-pod",
        _set_container(lifecycle={"preStop": {"tcpSocket": {"host": "db", "port": 5432}}}),
        "lifecycle.preStop.tcpSocket.host",
    ),
    ("pss-restricted-runs-as-non-root", _drop_non_root_everywhere, "runAsNonRoot: true"),
    (
        "pss-restricted-runs-as-non-root",
        _set_security(runAsNonRoot=False),
        "sets runAsNonRoot: false",
    ),
    ("pss-restricted-runs-as-non-root", _set_pod_security(runAsUser=0), "runAsUser: 0"),
    ("pss-restricted-runs-as-non-root", _set_security(runAsUser=0), "container 'app'"),
    (
        "pss-restricted-privilege-escalation-disabled",
        _drop_security("allowPrivilegeEscalation"),
        "allowPrivilegeEscalation",
    ),
    (
        "pss-restricted-privilege-escalation-disabled",
        _set_security(allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation",
    ),
    ("pss-restricted-capabilities-dropped", _drop_security("capabilities"), "drop ALL"),
    (
        "pss-restricted-capabilities-dropped",
        _set_security(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
        "adds capabilities CHOWN",
    ),
    ("pss-restricted-seccomp-profile-set", _drop_seccomp_everywhere, "RuntimeDefault"),
    (
        "pss-restricted-seccomp-profile-set",
        _set_security(seccompProfile={"type": "Unconfined"}),
        "Unconfined",
    ),
    (
        "pss-restricted-volume-types-allowed",
        _add_volume({"name": "share", "nfs": {"server": "nas", "path": "/x"}}),
        "'share' uses nfs",
    ),
]


@pytest.mark.parametrize(
    ("rule_name", "change", "fragment"),
    BREAKS,
    ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(BREAKS)],
)
def test_each_check_fires_on_its_field(
    rule_name: str, change: Callable[[Spec], None], fragment: str
) -> None:
    subject = workload(DEPLOYMENT, _changed(change))
    found = assert_violates(RULE[rule_name], subject, namespace("mlops"))
    assert fragment in found.message
    assert "Deployment mlops/app" in found.message
    assert "namespace 'mlops' enforces restricted" in found.message


def test_every_pod_security_rule_is_broken_by_some_case() -> None:
    assert {rule.name for rule in POD_SECURITY_RULES} == {name for name, _, _ in BREAKS}


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
@pytest.mark.parametrize("rule", POD_SECURITY_RULES, ids=lambda rule: rule.name)
def test_the_platform_security_contexts_comply_on_every_kind(kind: str, rule: Rule) -> None:
    assert_complies(rule, workload(kind), namespace("mlops"))


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_every_kind_is_inspected(kind: str) -> None:
    subject = workload(kind, _changed(_set_security(privileged=True)))
    assert_violates(RULE["pss-baseline-containers-not-privileged"], subject)


# Values the standards allow, next to the ones they forbid.
ALLOWED: list[tuple[str, Callable[[Spec], None]]] = [
    ("pss-baseline-no-host-ports", _set_container(ports=[{"containerPort": 80, "hostPort": 0}])),
    (
        "pss-baseline-capabilities-within-defaults",
        _set_security(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
    ),
    (
        "pss-restricted-capabilities-dropped",
        _set_security(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
    ),
    (
        "pss-baseline-sysctls-safe",
        _set_pod_security(sysctls=[{"name": "net.ipv4.tcp_syncookies", "value": "1"}]),
    ),
    ("pss-baseline-proc-mount-default", _set_security(procMount="Default")),
    (
        "pss-baseline-apparmor-not-unconfined",
        _set_security(appArmorProfile={"type": "Localhost", "localhostProfile": "k8s-app"}),
    ),
    ("pss-baseline-selinux-options-confined", _set_security(seLinuxOptions={"level": "s0:c1"})),
    (
        "pss-baseline-selinux-options-confined",
        _set_security(seLinuxOptions={"type": "container_init_t"}),
    ),
    # Pod-level runAsNonRoot and seccomp cover containers that leave them unset.
    ("pss-restricted-runs-as-non-root", _drop_security("runAsNonRoot")),
    ("pss-restricted-seccomp-profile-set", _drop_security("seccompProfile")),
    # A pod in its own user namespace is root only inside it.
    ("pss-restricted-runs-as-non-root", _root_in_user_namespace),
    (
        "pss-restricted-volume-types-allowed",
        _add_volume({"name": "data", "persistentVolumeClaim": {"claimName": "data"}}),
    ),
    (
        "pss-restricted-volume-types-allowed",
        _add_volume({"name": "token", "projected": {"sources": []}}),
    ),
]


@pytest.mark.parametrize(
    ("rule_name", "change"),
    ALLOWED,
    ids=[f"{name}-{index}" for index, (name, _) in enumerate(ALLOWED)],
)
def test_allowed_values_comply(rule_name: str, change: Callable[[Spec], None]) -> None:
    assert_complies(RULE[rule_name], workload(DEPLOYMENT, _changed(change)), namespace("mlops"))


def test_apparmor_annotations_are_checked_on_the_pod_template() -> None:
    rule = RULE["pss-baseline-apparmor-not-unconfined"]
    key = "container.apparmor.security.beta.kubernetes.io/app"
    found = assert_violates(rule, workload(DEPLOYMENT, pod_annotations={key: "unconfined"}))
    assert f"{key}=unconfined" in found.message
    for allowed in ("runtime/default", "localhost/k8s-app"):
        assert_complies(rule, workload(DEPLOYMENT, pod_annotations={key: allowed}))


def test_init_and_ephemeral_containers_are_checked() -> None:
    rule = RULE["pss-baseline-containers-not-privileged"]
    bad = container("setup", securityContext={"privileged": True})
    found = assert_violates(rule, workload(DEPLOYMENT, pod_spec(initContainers=[bad])))
    assert "initContainer 'setup'" in found.message
    found = assert_violates(rule, workload(DEPLOYMENT, pod_spec(ephemeralContainers=[bad])))
    assert "ephemeralContainer 'setup'" in found.message


def test_every_failing_pod_of_a_resource_is_one_finding() -> None:
    spec = pod_spec(
        container("a", securityContext={"privileged": True}),
        container("b", securityContext={"privileged": True}),
    )
    found = assert_violates(RULE["pss-baseline-containers-not-privileged"], workload(JOB, spec))
    assert "container 'a'" in found.message
    assert "container 'b'" in found.message


# --- the namespace's enforced level -----------------------------------------------------

PRIVILEGED_AGENT = _changed(_node_agent)


def test_a_privileged_namespace_exempts_its_pods_from_both_sets() -> None:
    agent = workload(DAEMON_SET, PRIVILEGED_AGENT, namespace="monitoring-agents")
    for rule in POD_SECURITY_RULES:
        assert_complies(rule, agent, namespace("monitoring-agents", "privileged"))


def test_the_same_agent_breaks_baseline_and_restricted_in_a_restricted_namespace() -> None:
    agent = workload(DAEMON_SET, PRIVILEGED_AGENT, namespace="mlops")
    failed = {v.rule for v in violations_of_all(agent, namespace("mlops"))}
    assert {
        "pss-baseline-containers-not-privileged",
        "pss-baseline-host-namespaces-not-shared",
        "pss-baseline-no-host-path-volumes",
        "pss-restricted-runs-as-non-root",
        "pss-restricted-privilege-escalation-disabled",
        "pss-restricted-capabilities-dropped",
        "pss-restricted-seccomp-profile-set",
        "pss-restricted-volume-types-allowed",
    } <= failed


def violations_of_all(*resources: Any) -> list[Any]:
    return [v for rule in POD_SECURITY_RULES for v in violations(rule, *resources)]


ROOT_POD = _changed(_drop_non_root_everywhere)


def test_a_baseline_namespace_gets_baseline_checks_only() -> None:
    kubeflow = namespace("kubeflow", "baseline")
    root = workload(DEPLOYMENT, ROOT_POD, namespace="kubeflow")
    assert_complies(RULE["pss-restricted-runs-as-non-root"], root, kubeflow)
    host_path = workload(
        DEPLOYMENT,
        _changed(_add_volume({"name": "h", "hostPath": {"path": "/"}})),
        namespace="kubeflow",
    )
    found = assert_violates(RULE["pss-baseline-no-host-path-volumes"], host_path, kubeflow)
    assert "namespace 'kubeflow' enforces baseline" in found.message


@pytest.mark.parametrize(
    "others",
    [
        (namespace("mlops", "restricted"),),
        (namespace("mlops", None),),  # no enforce label
        (namespace("mlops", "strict"),),  # a value Kubernetes does not know
        (),  # a namespace the stack does not create
        (namespace("kubeflow", "privileged"),),  # another namespace's level does not leak
    ],
    ids=["restricted", "unlabelled", "unknown-level", "not-created", "other-namespace"],
)
def test_restricted_applies_unless_the_namespace_says_otherwise(others: Any) -> None:
    root = workload(DEPLOYMENT, ROOT_POD, namespace="mlops")
    found = assert_violates(RULE["pss-restricted-runs-as-non-root"], root, *others)
    assert "enforces restricted" in found.message


def test_a_workload_without_a_namespace_runs_in_default() -> None:
    root = workload(DEPLOYMENT, ROOT_POD, namespace=None)
    assert_complies(RULE["pss-restricted-runs-as-non-root"], root, namespace("default", "baseline"))
    found = assert_violates(RULE["pss-restricted-runs-as-non-root"], root)
    assert "namespace 'default'" in found.message


# --- KServe -----------------------------------------------------------------------------


def _runtime_spec(**security: Any) -> Spec:
    return {"containers": [container("kserve-container", securityContext=security)]}


def test_a_serving_runtime_must_carry_the_restricted_context_on_its_containers() -> None:
    # The pod-level context comes from each InferenceService, so the runtime's containers
    # are checked on their own fields.
    bare = workload(SERVING_RUNTIME, _runtime_spec(), name="kserve-sklearn")
    found = assert_violates(RULE["pss-restricted-runs-as-non-root"], bare, namespace("mlops"))
    assert "ServingRuntime mlops/kserve-sklearn" in found.message
    hardened = workload(SERVING_RUNTIME, _runtime_spec(**RESTRICTED_CONTAINER_SECURITY_CONTEXT))
    for rule in POD_SECURITY_RULES:
        assert_complies(rule, hardened, namespace("mlops"))


def test_a_cluster_serving_runtime_is_held_to_restricted() -> None:
    runtime = workload(CLUSTER_SERVING_RUNTIME, _runtime_spec(), namespace=None, name="rt")
    found = assert_violates(
        RULE["pss-restricted-privilege-escalation-disabled"],
        runtime,
        namespace("kubeflow", "privileged"),
    )
    assert "cluster-wide runtime enforces restricted" in found.message


def _predictor(model: dict[str, Any]) -> Spec:
    spec = pod_spec()
    del spec["containers"]
    spec["model"] = {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://b/m", **model}
    return spec


def test_a_model_container_takes_unset_fields_from_its_runtime() -> None:
    isvc = workload(INFERENCE_SERVICE, _predictor({}), name="churn")
    for rule in POD_SECURITY_RULES:
        assert_complies(rule, isvc, namespace("mlops"))


def test_fields_a_model_container_sets_are_checked() -> None:
    isvc = workload(
        INFERENCE_SERVICE,
        _predictor({"securityContext": {"privileged": True, "allowPrivilegeEscalation": True}}),
        name="churn",
    )
    found = assert_violates(RULE["pss-baseline-containers-not-privileged"], isvc)
    assert "InferenceService mlops/churn predictor" in found.message
    assert "(model)" in found.message
    assert_violates(RULE["pss-restricted-privilege-escalation-disabled"], isvc)


def test_transformer_pods_are_checked_too() -> None:
    bad = pod_spec(container("transformer", securityContext={"privileged": True}))
    isvc = workload(INFERENCE_SERVICE, name="churn")
    props = dict(isvc.props)
    props["spec"] = {**props["spec"], "transformer": bad}
    subject = type(isvc)(type=isvc.type, name=isvc.name, urn=isvc.urn, props=props)
    found = assert_violates(RULE["pss-baseline-containers-not-privileged"], subject)
    assert "transformer" in found.message
