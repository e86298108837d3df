"""Karpenter on EKS: controller, interruption handling, and one NodePool per node-pool spec."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_blueprints import versions
from mlops_blueprints.errors import BlueprintConfigError

from .._labels import standard_labels
from .._opts import child_opts
from ..identity._trust import irsa_trust_policy
from ._charts import (
    KARPENTER_NAMESPACE,
    KARPENTER_SERVICE_ACCOUNT,
    chart_args,
    ec2_node_class_spec,
    karpenter_node_pool_spec,
    neuron_chart_values,
    nvidia_device_plugin_values,
)
from ._hardware import NodePoolSpec, validate_pools
from ._policies import (
    INTERRUPTION_EVENT_PATTERNS,
    NODE_MANAGED_POLICIES,
    arn_parts,
    dns_suffix,
    interruption_queue_policy,
    karpenter_controller_policy,
    node_trust_policy,
    role_name_from_arn,
)

__all__ = ["KarpenterNodePools", "KarpenterNodePoolsArgs", "default_interruption_queue_name"]

_AMI_ALIAS = re.compile(r"^al2023@v[0-9]{8}$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# Tags Karpenter sets itself; its CRD rejects them on an EC2NodeClass.
_RESTRICTED_TAGS: Final = (
    "eks:eks-cluster-name",
    "karpenter.sh/nodepool",
    "karpenter.sh/nodeclaim",
    "karpenter.k8s.aws/ec2nodeclass",
)
# Device plugins are node agents: they run with the system add-ons.
_SYSTEM_NAMESPACE: Final = "kube-system"
# SQS keeps a message at most this long; interruption notices are stale after minutes.
_QUEUE_RETENTION_SECONDS: Final = 300


def _controller_policy(
    cluster_name: str, queue_arn: str, node_role_arn: str, kms_key_arn: str | None
) -> dict[str, object]:
    partition, region, account_id = arn_parts(queue_arn)
    return karpenter_controller_policy(
        partition=partition,
        region=region,
        account_id=account_id,
        cluster_name=cluster_name,
        interruption_queue_arn=queue_arn,
        node_role_arn=node_role_arn,
        kms_key_arn=kms_key_arn,
    )


def _managed_policy_arn(policy: str, partition: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{policy}"


def _rule_name(queue_name: str, *, event: str) -> str:
    # EventBridge rule names are at most 64 characters.
    return f"{queue_name[:46]}-{event}"


def default_interruption_queue_name(cluster_name: str) -> str:
    """``<cluster>-karpenter``, shortened to SQS's 80 characters."""
    return f"{cluster_name[:70]}-karpenter"


@dataclass(frozen=True)
class KarpenterNodePoolsArgs:
    """Arguments for :class:`KarpenterNodePools`.

    - ``cluster_name``: the EKS cluster; also the ``karpenter.sh/discovery`` tag value that
      marks the subnets and security groups nodes use.
    - ``cluster_endpoint``: the cluster's API server URL.
    - ``oidc_provider_arn``: the cluster's IAM OIDC provider; the controller role trusts only
      the ``kube-system/karpenter`` service account through it.
    - ``oidc_issuer_url``: the cluster's OIDC issuer URL.
    - ``node_pools``: the pools, checked together (unique names, classes aws runs,
      ``min_nodes`` 0 because Karpenter keeps no minimum).
    - ``node_role_arn`` (None): bring your own node role; unset creates one with the four EKS
      worker managed policies (worker node, CNI, ECR read-only, SSM).
    - ``enable_node_access_entry`` (True): create the EKS access entry (type EC2_LINUX) that lets
      nodes with the node role join the cluster.
    - ``kms_key_arn`` (None): customer-managed key for node root volumes; unset uses the
      account's default EBS key. Volumes are encrypted either way.
    - ``ami_alias`` (pinned in versions.IMAGES): the AL2023 release nodes boot, as
      ``al2023@vYYYYMMDD``; accelerated variants are picked per instance type.
    - ``interruption_queue_name`` (None): the SQS queue's name; unset uses
      ``<cluster_name>-karpenter``.
    - ``controller_replicas`` (2): controller pods (one leader, one standby).
    - ``controller_cpu_millicores`` (1000): CPU request and limit of each controller pod.
    - ``controller_memory_mib`` (1024): memory request and limit of each controller pod.
    - ``tags`` ({}): added to the AWS resources that take tags, and to the instances and
      volumes Karpenter launches.
    """

    cluster_name: pulumi.Input[str]
    cluster_endpoint: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    node_pools: tuple[NodePoolSpec, ...]
    node_role_arn: pulumi.Input[str] | None = None
    enable_node_access_entry: bool = True
    kms_key_arn: pulumi.Input[str] | None = None
    ami_alias: str = versions.IMAGES["eks-node-al2023"]
    interruption_queue_name: str | None = None
    controller_replicas: int = 2
    controller_cpu_millicores: int = 1000
    controller_memory_mib: int = 1024
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.node_pools:
            raise BlueprintConfigError(
                "node_pools",
                self.node_pools,
                "Give at least one pool, e.g. (NodePoolSpec(name='general'),).",
            )
        validate_pools(self.node_pools, "aws")
        for pool in self.node_pools:
            if pool.min_nodes:
                raise BlueprintConfigError(
                    f"node_pool[{pool.name}].min_nodes",
                    pool.min_nodes,
                    "Karpenter launches nodes for pending pods and keeps no minimum; use "
                    "min_nodes=0 (always-on capacity belongs to the cluster's system node group).",
                )
        if not _AMI_ALIAS.match(self.ami_alias):
            raise BlueprintConfigError(
                "ami_alias",
                self.ami_alias,
                "Pin an AL2023 release such as 'al2023@v20260423', so nodes change only when "
                "the pin changes (not 'latest').",
            )
        if self.interruption_queue_name is not None and not _QUEUE_NAME.match(
            self.interruption_queue_name
        ):
            raise BlueprintConfigError(
                "interruption_queue_name",
                self.interruption_queue_name,
                "Use 1-80 letters, digits, '-' or '_'.",
            )
        for attribute in (
            "controller_replicas",
            "controller_cpu_millicores",
            "controller_memory_mib",
        ):
            value = getattr(self, attribute)
            if value < 1:
                raise BlueprintConfigError(attribute, value, f"Use a positive {attribute}.")
        if isinstance(self.cluster_name, str) and not self.cluster_name:
            raise BlueprintConfigError(
                "cluster_name", self.cluster_name, "Name the EKS cluster the pools belong to."
            )
        for key, value in self.tags.items():
            if not key or not value:
                raise BlueprintConfigError(
                    "tags", {key: value}, "Tags need a non-empty key and value."
                )
            if key in _RESTRICTED_TAGS or key.startswith("kubernetes.io/cluster/"):
                raise BlueprintConfigError(
                    "tags",
                    key,
                    "Karpenter sets this tag itself and rejects it on node classes; remove it.",
                )


class KarpenterNodePools(pulumi.ComponentResource):
    """Karpenter with an interruption queue, and a NodePool plus EC2NodeClass per pool.

    Children (``{name}-<suffix>``): ``node-role`` and ``node-<policy>`` attachments (unless
    ``node_role_arn`` is given), ``node-access-entry``, ``interruption-queue``,
    ``interruption-queue-policy``, ``<event>-rule`` and ``<event>-target`` for the four EC2 and
    Health events, ``controller-role``, ``controller-policy``, ``karpenter`` (Helm release),
    ``<pool>-node-class`` and ``<pool>-node-pool`` per pool, and ``nvidia-device-plugin`` /
    ``neuron-device-plugin`` releases when a pool of that class exists. Node classes and pools
    depend on the Karpenter release, and node classes on the node role's policies and access
    entry, so a destroy removes them (and drains their nodes) while the controller still runs
    and the nodes can still reach the cluster.
    """

    node_role_arn: pulumi.Output[str]
    node_role_name: pulumi.Output[str]
    controller_role_arn: pulumi.Output[str]
    interruption_queue_arn: pulumi.Output[str]
    interruption_queue_name: pulumi.Output[str]
    node_pool_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: KarpenterNodePoolsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:nodepools:KarpenterNodePools", name, None, opts)
        self.pools = args.node_pools
        cluster_name = pulumi.Output.from_input(args.cluster_name)
        # The partition comes from the OIDC provider's ARN, and region and account from the
        # queue's: no provider lookups, so a render needs no credentials.
        iam_partition = pulumi.Output.from_input(args.oidc_provider_arn).apply(
            lambda arn: arn_parts(arn)[0]
        )

        # What a node needs to join; node classes wait for it and outlive their nodes.
        node_prerequisites = self._node_role(name, args, iam_partition)
        if args.enable_node_access_entry:
            node_access = aws.eks.AccessEntry(
                f"{name}-node-access-entry",
                cluster_name=args.cluster_name,
                principal_arn=self.node_role_arn,
                type="EC2_LINUX",
                tags=args.tags,
                opts=child_opts(self),
            )
            node_prerequisites.append(node_access)
        queue = self._interruption_queue(name, args, cluster_name)

        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer_url).apply(
            lambda v: json.dumps(
                irsa_trust_policy(
                    oidc_provider_arn=v[0],
                    oidc_issuer=v[1],
                    namespace=KARPENTER_NAMESPACE,
                    service_account=KARPENTER_SERVICE_ACCOUNT,
                )
            )
        )
        controller_role = aws.iam.Role(
            f"{name}-controller-role",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=args.tags,
            opts=child_opts(self),
        )
        self.controller_role_arn = controller_role.arn
        document = pulumi.Output.all(
            cluster_name, queue.arn, self.node_role_arn, args.kms_key_arn
        ).apply(lambda v: json.dumps(_controller_policy(v[0], v[1], v[2], v[3])))
        controller_policy = aws.iam.RolePolicy(
            f"{name}-controller-policy",
            role=controller_role.name,
            policy=document,
            opts=child_opts(self),
        )

        millicores = f"{args.controller_cpu_millicores}m"
        memory = f"{args.controller_memory_mib}Mi"
        karpenter = versions.CHARTS["karpenter"]
        release = k8s.helm.v3.Release(
            f"{name}-karpenter",
            name="karpenter",
            namespace=KARPENTER_NAMESPACE,
            values={
                "settings": {
                    "clusterName": cluster_name,
                    "clusterEndpoint": args.cluster_endpoint,
                    "interruptionQueue": queue.name,
                },
                "serviceAccount": {
                    "name": KARPENTER_SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": controller_role.arn},
                },
                "replicas": args.controller_replicas,
                "controller": {
                    # The region without IMDS: nodes allow one hop, so pods cannot reach it.
                    "env": [
                        {"name": "AWS_REGION", "value": queue.arn.apply(lambda a: arn_parts(a)[1])}
                    ],
                    "resources": {
                        "requests": {"cpu": millicores, "memory": memory},
                        "limits": {"cpu": millicores, "memory": memory},
                    },
                },
            },
            # The controller starts only once its permissions exist.
            opts=child_opts(self, depends_on=[controller_policy]),
            **chart_args(karpenter),
        )

        pool_names: list[str] = []
        for pool in args.node_pools:
            labels = standard_labels("karpenter-node-pool", instance=pool.name)
            node_class = k8s.apiextensions.CustomResource(
                f"{name}-{pool.name}-node-class",
                api_version="karpenter.k8s.aws/v1",
                kind="EC2NodeClass",
                metadata={"name": pool.name, "labels": labels},
                spec=ec2_node_class_spec(
                    pool,
                    role=self.node_role_name,
                    discovery_tag=cluster_name,
                    ami_alias=args.ami_alias,
                    kms_key_arn=args.kms_key_arn,
                    tags=args.tags,
                ),
                opts=child_opts(self, depends_on=[release, *node_prerequisites]),
            )
            k8s.apiextensions.CustomResource(
                f"{name}-{pool.name}-node-pool",
                api_version="karpenter.sh/v1",
                kind="NodePool",
                metadata={"name": pool.name, "labels": labels},
                spec=karpenter_node_pool_spec(pool, node_class_name=pool.name),
                opts=child_opts(self, depends_on=[release, node_class]),
            )
            pool_names.append(pool.name)

        gpu_pools = [p for p in args.node_pools if p.hardware_class == "nvidia-gpu"]
        if gpu_pools:
            k8s.helm.v3.Release(
                f"{name}-nvidia-device-plugin",
                name="nvidia-device-plugin",
                namespace=_SYSTEM_NAMESPACE,
                values=nvidia_device_plugin_values(gpu_pools),
                opts=child_opts(self),
                **chart_args(versions.CHARTS["nvidia-device-plugin"]),
            )
        neuron_pools = [p for p in args.node_pools if p.hardware_class == "neuron"]
        if neuron_pools:
            k8s.helm.v3.Release(
                f"{name}-neuron-device-plugin",
                name="neuron-device-plugin",
                namespace=_SYSTEM_NAMESPACE,
                values=neuron_chart_values(neuron_pools),
                opts=child_opts(self),
                **chart_args(versions.CHARTS["neuron-helm-chart"]),
            )

        self.interruption_queue_arn = queue.arn
        self.interruption_queue_name = queue.name
        self.node_pool_names = pulumi.Output.from_input(pool_names)
        self.register_outputs(
            {
                "node_role_arn": self.node_role_arn,
                "controller_role_arn": self.controller_role_arn,
                "interruption_queue_name": self.interruption_queue_name,
                "node_pool_names": self.node_pool_names,
            }
        )

    def _node_role(
        self,
        name: str,
        args: KarpenterNodePoolsArgs,
        partition: pulumi.Output[str],
    ) -> list[pulumi.Resource]:
        if args.node_role_arn is not None:
            self.node_role_arn = pulumi.Output.from_input(args.node_role_arn)
            self.node_role_name = self.node_role_arn.apply(role_name_from_arn)
            return []
        role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=partition.apply(
                lambda p: json.dumps(node_trust_policy(dns_suffix=dns_suffix(p)))
            ),
            tags=args.tags,
            opts=child_opts(self),
        )
        attachments: list[pulumi.Resource] = []
        for suffix, policy in NODE_MANAGED_POLICIES.items():
            attachment = aws.iam.RolePolicyAttachment(
                f"{name}-node-{suffix}",
                role=role.name,
                policy_arn=partition.apply(functools.partial(_managed_policy_arn, policy)),
                opts=child_opts(self),
            )
            attachments.append(attachment)
        self.node_role_arn = role.arn
        self.node_role_name = role.name
        return attachments

    def _interruption_queue(
        self, name: str, args: KarpenterNodePoolsArgs, cluster_name: pulumi.Output[str]
    ) -> aws.sqs.Queue:
        queue_name: pulumi.Input[str] = (
            args.interruption_queue_name
            if args.interruption_queue_name is not None
            else cluster_name.apply(default_interruption_queue_name)
        )
        queue = aws.sqs.Queue(
            f"{name}-interruption-queue",
            name=queue_name,
            message_retention_seconds=_QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=args.tags,
            opts=child_opts(self),
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruption-queue-policy",
            # A queue's id is its URL.
            queue_url=queue.id,
            policy=queue.arn.apply(lambda arn: json.dumps(interruption_queue_policy(arn))),
            opts=child_opts(self),
        )
        for event, pattern in INTERRUPTION_EVENT_PATTERNS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{event}-rule",
                name=pulumi.Output.from_input(queue_name).apply(
                    functools.partial(_rule_name, event=event)
                ),
                description=f"Karpenter interruption handling: {pattern['detail-type'][0]}",
                event_pattern=json.dumps(pattern),
                tags=args.tags,
                opts=child_opts(self),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{event}-target",
                rule=rule.name,
                arn=queue.arn,
                target_id="karpenter-interruption-queue",
                opts=child_opts(self),
            )
        return queue
