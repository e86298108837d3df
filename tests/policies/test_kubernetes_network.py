"""Network exposure: internal load balancers, no node ports, default-deny in every namespace."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.policies._analyze import AnalyzedResource
from mlops_blueprints.policies.kubernetes import RULES, is_default_deny

from ._helpers import assert_complies, assert_violates, resource
from ._kubernetes import NETWORK_POLICY, SERVICE, namespace

pytestmark = pytest.mark.policy

RULE = {rule.name: rule for rule in RULES}
LOAD_BALANCERS = RULE["k8s-load-balancers-internal"]
NODE_PORTS = RULE["k8s-services-not-node-port"]
DEFAULT_DENY = RULE["k8s-namespaces-deny-traffic-by-default"]


def service(type_: str | None, annotations: dict[str, str] | None = None) -> AnalyzedResource:
    metadata: dict[str, Any] = {"name": "gateway", "namespace": "mlops"}
    if annotations is not None:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {"ports": [{"port": 443, "targetPort": 8443}]}
    if type_ is not None:
        spec["type"] = type_
    return resource(SERVICE, "gateway-service", {"metadata": metadata, "spec": spec})


@pytest.mark.parametrize(
    "annotations",
    [
        {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"},
        {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
        {"service.beta.kubernetes.io/aws-load-balancer-internal": "True"},
    ],
)
def test_an_internal_load_balancer_complies(annotations: dict[str, str]) -> None:
    assert_complies(LOAD_BALANCERS, service("LoadBalancer", annotations))


@pytest.mark.parametrize(
    "annotations",
    [
        None,
        {},
        {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"},
        {"service.beta.kubernetes.io/aws-load-balancer-internal": "false"},
        {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
    ],
)
def test_an_internet_facing_load_balancer_is_a_finding(annotations: dict[str, str] | None) -> None:
    found = assert_violates(LOAD_BALANCERS, service("LoadBalancer", annotations))
    assert "Service 'gateway'" in found.message
    assert "internet-facing" in found.message


@pytest.mark.parametrize("type_", [None, "ClusterIP", "NodePort", "ExternalName"])
def test_other_service_types_are_not_load_balancers(type_: str | None) -> None:
    assert_complies(LOAD_BALANCERS, service(type_))


def test_a_node_port_is_an_advisory_finding() -> None:
    assert NODE_PORTS.severity == "low"
    assert "advisory" in NODE_PORTS.tags
    found = assert_violates(NODE_PORTS, service("NodePort"))
    assert "NodePort" in found.message
    for type_ in (None, "ClusterIP", "LoadBalancer"):
        assert_complies(NODE_PORTS, service(type_))


DENY_ALL: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
DNS_EGRESS: dict[str, Any] = {
    "podSelector": {},
    "policyTypes": ["Egress"],
    "egress": [{"ports": [{"protocol": "UDP", "port": 53}]}],
}


def policy(name: str, spec: dict[str, Any], ns: str = "mlops") -> AnalyzedResource:
    return resource(
        NETWORK_POLICY,
        f"{ns}-{name}",
        {"metadata": {"name": name, "namespace": ns}, "spec": spec},
    )


def test_a_namespace_with_the_default_deny_policy_complies() -> None:
    # As WorkloadNamespace creates them: default-deny-all plus allow-dns-egress.
    assert_complies(
        DEFAULT_DENY,
        namespace("mlops"),
        policy("default-deny-all", DENY_ALL),
        policy("allow-dns-egress", DNS_EGRESS),
    )


def test_deny_may_be_split_into_an_ingress_and_an_egress_policy() -> None:
    assert_complies(
        DEFAULT_DENY,
        namespace("mlops"),
        policy("deny-ingress", {"podSelector": {}}),  # policyTypes defaults to Ingress
        policy("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"], "egress": []}),
    )


@pytest.mark.parametrize(
    ("others", "missing"),
    [
        ((), "ingress and egress"),
        ((policy("allow-dns-egress", DNS_EGRESS),), "ingress and egress"),
        ((policy("default-deny-all", DENY_ALL, ns="other"),), "ingress and egress"),
        ((policy("deny-ingress", {"podSelector": {}}),), "egress"),
        (
            (
                policy(
                    "deny-egress", {"podSelector": {"matchLabels": {}}, "policyTypes": ["Egress"]}
                ),
            ),
            "ingress",
        ),
        (
            # Selecting some pods leaves the rest open.
            (
                policy(
                    "deny-app",
                    {**DENY_ALL, "podSelector": {"matchLabels": {"app": "x"}}},
                ),
            ),
            "ingress and egress",
        ),
        (
            (
                policy(
                    "deny-app",
                    {
                        **DENY_ALL,
                        "podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                    },
                ),
            ),
            "ingress and egress",
        ),
        (
            # One empty rule allows everything: that is an allow-all, not a deny.
            (policy("internal", {**DENY_ALL, "ingress": [{}], "egress": [{}]}),),
            "ingress and egress",
        ),
    ],
    ids=[
        "no-policy",
        "only-dns",
        "other-namespace",
        "ingress-only",
        "egress-only",
        "label-selector",
        "expression-selector",
        "allow-rules",
    ],
)
def test_a_namespace_without_default_deny_is_a_finding(
    others: tuple[AnalyzedResource, ...], missing: str
) -> None:
    subject = namespace("mlops")
    found = assert_violates(DEFAULT_DENY, subject, *others)
    assert f"namespace 'mlops' has no NetworkPolicy denying all {missing} " in found.message


def test_each_namespace_is_judged_on_its_own_policies() -> None:
    mlops, storage = namespace("mlops"), namespace("mlops-storage")
    found = assert_violates(DEFAULT_DENY, storage, mlops, policy("default-deny-all", DENY_ALL))
    assert "'mlops-storage'" in found.message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (DENY_ALL, (True, True)),
        ({"podSelector": {}}, (True, False)),
        ({"podSelector": {}, "egress": [{"to": []}]}, (True, False)),
        ({"policyTypes": ["Ingress", "Egress"]}, (True, True)),  # absent selector: every pod
        (DNS_EGRESS, (False, False)),
        ({**DENY_ALL, "ingress": []}, (True, True)),
        (None, (False, False)),
    ],
)
def test_is_default_deny(spec: Any, expected: tuple[bool, bool]) -> None:
    assert is_default_deny(spec) == expected
