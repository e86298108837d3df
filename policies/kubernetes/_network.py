"""Network exposure: no internet-facing load balancers, no node ports, default-deny namespaces."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mlops_blueprints.policies._rule import Rule, iter_list, prop
from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from .._rule import Report
from ._mapping import KUBERNETES_TAG, controls
from ._workloads import NAMESPACE

__all__ = [
    "INTERNAL_LOAD_BALANCER_ANNOTATIONS",
    "NETWORK_POLICY",
    "NETWORK_RULES",
    "SERVICE",
    "is_default_deny",
]

SERVICE: Final = "kubernetes:core/v1:Service"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

# Annotation -> the value that keeps an AWS load balancer off the internet (the AWS Load
# Balancer Controller reads the first, the in-tree cloud provider the second).
INTERNAL_LOAD_BALANCER_ANNOTATIONS: Final[Mapping[str, str]] = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
}


def _load_balancer_internal(args: ResourceValidationArgs, report: Report) -> None:
    if prop(args.props, "spec", "type") != "LoadBalancer":
        return
    annotations = prop(args.props, "metadata", "annotations", default=None)
    if isinstance(annotations, Mapping):
        for key, internal in INTERNAL_LOAD_BALANCER_ANNOTATIONS.items():
            value = annotations.get(key)
            if isinstance(value, str) and value.strip().lower() == internal:
                return
    name = prop(args.props, "metadata", "name", default=args.name)
    report(
        f"Service {name!r} is type LoadBalancer without an internal-scheme annotation, so the "
        "cloud provisions an internet-facing load balancer",
        None,
    )


def _no_node_port(args: ResourceValidationArgs, report: Report) -> None:
    if prop(args.props, "spec", "type") == "NodePort":
        name = prop(args.props, "metadata", "name", default=args.name)
        report(f"Service {name!r} is type NodePort: it opens a port on every node", None)


def _selects_every_pod(selector: Any) -> bool:
    if selector is None:
        return True
    if not isinstance(selector, Mapping):
        return False
    labels = selector.get("matchLabels")
    has_labels = isinstance(labels, Mapping) and len(labels) > 0
    has_expressions = any(True for _ in iter_list(selector.get("matchExpressions")))
    return not has_labels and not has_expressions


def is_default_deny(spec: Any) -> tuple[bool, bool]:
    """Whether a NetworkPolicy ``spec`` denies all (ingress, egress) to every pod it selects.

    It must select every pod (``podSelector: {}``), list the direction in ``policyTypes`` (an
    absent list means Ingress only when there are no egress rules) and allow nothing in it (no
    rules: a single empty rule ``{}`` would allow everything).
    """
    if not isinstance(spec, Mapping) or not _selects_every_pod(spec.get("podSelector")):
        return False, False
    ingress_rules = list(iter_list(spec.get("ingress")))
    egress_rules = list(iter_list(spec.get("egress")))
    types = spec.get("policyTypes")
    # Without policyTypes, a policy with no egress rules governs ingress only.
    listed = {"Ingress"} if types is None else {t for t in iter_list(types) if isinstance(t, str)}
    return (
        "Ingress" in listed and not ingress_rules,
        "Egress" in listed and not egress_rules,
    )


def _namespaces_default_deny(args: StackValidationArgs, report: Report) -> None:
    denied: dict[str, tuple[bool, bool]] = {}
    for resource in args.resources:
        if resource.resource_type != NETWORK_POLICY:
            continue
        namespace = prop(resource.props, "metadata", "namespace", default=None) or "default"
        ingress, egress = is_default_deny(prop(resource.props, "spec"))
        before = denied.get(str(namespace), (False, False))
        denied[str(namespace)] = (before[0] or ingress, before[1] or egress)
    for resource in args.resources:
        if resource.resource_type != NAMESPACE:
            continue
        name = prop(resource.props, "metadata", "name", default=None)
        if not isinstance(name, str) or not name:
            continue
        ingress, egress = denied.get(name, (False, False))
        missing = [d for d, ok in (("ingress", ingress), ("egress", egress)) if not ok]
        if missing:
            report(
                f"namespace {name!r} has no NetworkPolicy denying all {' and '.join(missing)} "
                "(podSelector {}, the direction in policyTypes, no rules)",
                resource.urn,
            )


NETWORK_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="k8s-load-balancers-internal",
        description=(
            "Every LoadBalancer Service carries an internal-scheme annotation, so no load "
            "balancer is reachable from the internet."
        ),
        remediation=(
            "Annotate the Service with service.beta.kubernetes.io/aws-load-balancer-scheme: "
            "internal (or service.beta.kubernetes.io/aws-load-balancer-internal: 'true'), or use "
            "a ClusterIP Service behind the platform's ingress."
        ),
        severity="high",
        controls=controls(
            nist=("AC-4", "SC-7"),
            hipaa=("164.312(a)(1)", "164.312(e)(1)"),
            gdpr=("Art. 25", "Art. 32"),
        ),
        resource_types=(SERVICE,),
        validate_resource=_load_balancer_internal,
        tags=(KUBERNETES_TAG, "network"),
    ),
    Rule(
        name="k8s-services-not-node-port",
        description=(
            "No Service is of type NodePort, which opens its port on every node of the cluster "
            "(advisory: a node port is only as private as the nodes' security groups)."
        ),
        remediation=(
            "Use a ClusterIP Service (reached in-cluster, or through an internal load balancer "
            "or the ingress) instead of NodePort."
        ),
        severity="low",
        controls=controls(nist=("CM-7", "SC-7"), gdpr=("Art. 25",)),
        resource_types=(SERVICE,),
        validate_resource=_no_node_port,
        tags=(KUBERNETES_TAG, "network", "advisory"),
    ),
    Rule(
        name="k8s-namespaces-deny-traffic-by-default",
        description=(
            "Every Namespace the stack creates holds a NetworkPolicy that selects all its pods "
            "and denies all ingress and egress, so each allowed flow is declared explicitly."
        ),
        remediation=(
            "Create namespaces with WorkloadNamespace (enable_default_deny, on by default), "
            "which adds the default-deny-all NetworkPolicy; or add one with podSelector {}, "
            "policyTypes [Ingress, Egress] and no rules."
        ),
        severity="high",
        controls=controls(
            cis=("4.3.2",),
            nist=("AC-4", "SC-7"),
            hipaa=("164.312(a)(1)", "164.312(e)(1)"),
            gdpr=("Art. 25", "Art. 32"),
        ),
        resource_types=(NAMESPACE, NETWORK_POLICY),
        validate_stack=_namespaces_default_deny,
        tags=(KUBERNETES_TAG, "network"),
    ),
)
