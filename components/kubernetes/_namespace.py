"""A namespace for platform workloads, locked down by default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints.targets._seam import validate_dns_label

from .._labels import standard_labels
from .._opts import child_opts
from ._security import object_name

__all__ = ["WorkloadNamespace", "WorkloadNamespaceArgs"]

PodSecurityLevel = Literal["restricted", "baseline", "privileged"]


@dataclass(frozen=True)
class WorkloadNamespaceArgs:
    """Arguments for :class:`WorkloadNamespace`.

    - ``namespace``: the namespace name (an RFC 1123 label).
    - ``pod_security`` (restricted): the Pod Security Standards level, enforced, audited and
      warned; ``privileged`` is an explicit, loudly named opt-in for system agents only.
    - ``enable_default_deny`` (on): a NetworkPolicy denying all ingress and egress, plus one
      allowing DNS, so every other flow is declared by the component that needs it.
    - ``labels``: extra labels on the namespace.
    """

    namespace: str
    pod_security: PodSecurityLevel = "restricted"
    enable_default_deny: bool = True
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_dns_label(self.namespace, field="namespace")


class WorkloadNamespace(pulumi.ComponentResource):
    """Namespace with Pod Security Standards labels and a default-deny NetworkPolicy.

    Children: ``{name}-namespace`` (Namespace) and, unless disabled, the NetworkPolicies
    ``{name}-default-deny`` (all ingress and egress) and ``{name}-allow-dns`` (egress to
    cluster DNS only).
    """

    namespace_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkloadNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:kubernetes:WorkloadNamespace", name, None, opts)
        labels = standard_labels("namespace", instance=args.namespace, extra=args.labels) | {
            "pod-security.kubernetes.io/enforce": args.pod_security,
            "pod-security.kubernetes.io/audit": args.pod_security,
            "pod-security.kubernetes.io/warn": args.pod_security,
        }
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": labels},
            opts=child_opts(self),
        )
        self.namespace_name = object_name(self.namespace)
        if args.enable_default_deny:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-default-deny",
                metadata={
                    "name": "default-deny-all",
                    "namespace": self.namespace_name,
                    "labels": standard_labels("network-policy", instance=args.namespace),
                },
                spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                opts=child_opts(self),
            )
            # Name resolution is the one flow every workload needs.
            k8s.networking.v1.NetworkPolicy(
                f"{name}-allow-dns",
                metadata={
                    "name": "allow-dns-egress",
                    "namespace": self.namespace_name,
                    "labels": standard_labels("network-policy", instance=args.namespace),
                },
                spec={
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {
                                            "kubernetes.io/metadata.name": "kube-system"
                                        }
                                    },
                                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                                }
                            ],
                            "ports": [
                                {"protocol": "UDP", "port": 53},
                                {"protocol": "TCP", "port": 53},
                            ],
                        }
                    ],
                },
                opts=child_opts(self),
            )
        self.register_outputs({"namespace_name": self.namespace_name})
