"""A hardened EKS cluster: private endpoint, encrypted Secrets, audit logs, IMDSv2 nodes."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.versions import (
    EKS_ADDON_VERSIONS,
    EKS_KUBERNETES_VERSION,
    EKS_SUPPORTED_KUBERNETES_VERSIONS,
)

from .._opts import child_opts
from ..keys import KmsKey, KmsKeyArgs
from ..network._plan import validate_region, validate_retention_days
from ..network._vpc import validate_cluster_name
from ._plan import (
    CLUSTER_ADMIN_ACCESS_POLICY,
    CLUSTER_MANAGED_POLICIES,
    NODE_MANAGED_POLICIES,
    SYSTEM_TAINT,
    access_policy_arn,
    build_kubeconfig,
    cluster_trust_policy,
    managed_policy_arn,
    node_trust_policy,
    validate_access_cidrs,
)

__all__ = ["EksCluster", "EksClusterArgs", "SystemNodeGroupArgs"]

BASE_LOG_TYPES: tuple[str, ...] = ("api", "audit", "authenticator")
OptionalLogType = Literal["controllerManager", "scheduler"]
AmiType = Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"]
CapacityType = Literal["ON_DEMAND", "SPOT"]
SupportType = Literal["STANDARD", "EXTENDED"]
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


@dataclass(frozen=True)
class SystemNodeGroupArgs:
    """Arguments for the system managed node group of :class:`EksCluster`.

    - ``instance_types`` (m7i.large): instance types, in order of preference.
    - ``min_size`` (2): at least one node; two keep CoreDNS available during node updates.
    - ``desired_size`` (2): between ``min_size`` and ``max_size``.
    - ``max_size`` (3): upper bound for scaling and rolling updates.
    - ``disk_size_gib`` (50): gp3 root volume, encrypted with the cluster key.
    - ``ami_type`` ("AL2023_x86_64_STANDARD"): Amazon Linux 2023, x86_64 or ARM64.
    - ``capacity_type`` ("ON_DEMAND"): ``SPOT`` is cheaper but system pods may be evicted.
    """

    instance_types: tuple[str, ...] = ("m7i.large",)
    min_size: int = 2
    desired_size: int = 2
    max_size: int = 3
    disk_size_gib: int = 50
    ami_type: AmiType = "AL2023_x86_64_STANDARD"
    capacity_type: CapacityType = "ON_DEMAND"

    def __post_init__(self) -> None:
        prefix = "system_node_group"
        if not self.instance_types or not all(_INSTANCE_TYPE.match(t) for t in self.instance_types):
            raise BlueprintConfigError(
                f"{prefix}.instance_types",
                list(self.instance_types),
                "List at least one EC2 instance type, such as 'm7i.large'.",
            )
        if self.min_size < 1:
            raise BlueprintConfigError(
                f"{prefix}.min_size",
                self.min_size,
                "The system node group runs CoreDNS and the cluster add-ons: keep at least 1 "
                "node (2 recommended).",
            )
        if self.min_size > self.max_size:
            raise BlueprintConfigError(
                f"{prefix}.min_size",
                self.min_size,
                f"min_size must not exceed max_size ({self.max_size}): lower min_size or "
                "raise max_size.",
            )
        if not self.min_size <= self.desired_size <= self.max_size:
            raise BlueprintConfigError(
                f"{prefix}.desired_size",
                self.desired_size,
                f"desired_size must lie between min_size ({self.min_size}) and max_size "
                f"({self.max_size}).",
            )
        if not 20 <= self.disk_size_gib <= 16384:
            raise BlueprintConfigError(
                f"{prefix}.disk_size_gib",
                self.disk_size_gib,
                "Use 20 to 16384 GiB for the root volume (50 is a good default).",
            )
        if self.ami_type not in get_args(AmiType):
            raise BlueprintConfigError(
                f"{prefix}.ami_type",
                self.ami_type,
                "Use " + " or ".join(repr(a) for a in get_args(AmiType)) + ".",
            )
        if self.capacity_type not in get_args(CapacityType):
            raise BlueprintConfigError(
                f"{prefix}.capacity_type", self.capacity_type, "Use 'ON_DEMAND' or 'SPOT'."
            )


@dataclass(frozen=True)
class EksClusterArgs:
    """Arguments for :class:`EksCluster`.

    - ``cluster_name``: the EKS cluster name (also used for log group and tag values).
    - ``region``: the region the provider deploys to (used in the kubeconfig).
    - ``vpc_id``: the VPC of the subnets.
    - ``subnet_ids``: private subnets in at least two zones, for control-plane interfaces and
      the system nodes.
    - ``kubernetes_version`` (``EKS_KUBERNETES_VERSION``): a minor from
      ``EKS_SUPPORTED_KUBERNETES_VERSIONS``; add-on builds are pinned per minor.
    - ``kms_key`` (created): the key for Secrets envelope encryption, the control-plane log
      group and node root volumes. When unset the cluster creates ``{name}-key``. A given key
      must allow ``logs.<region>.amazonaws.com`` and autoscaling volume encryption.
    - ``enable_public_endpoint`` (off): expose the API server publicly, only to
      ``public_access_cidrs`` (required, never ``0.0.0.0/0``). Off, the API is reachable only
      from inside the VPC and networks connected to it.
    - ``public_access_cidrs`` (none): public ranges allowed to reach the public endpoint.
    - ``private_access_cidrs`` (none): private ranges outside the node subnets (VPN,
      bastion) allowed to reach the private endpoint on 443.
    - ``additional_log_types`` (none): ``controllerManager`` and/or ``scheduler`` on top of the
      always-on ``api``, ``audit`` and ``authenticator`` control-plane logs.
    - ``log_retention_days`` (90): retention of the control-plane log group.
    - ``enable_creator_admin`` (on): give the identity that deploys the stack cluster-admin
      through an access entry (the API authentication mode has no aws-auth ConfigMap).
    - ``admin_role_arns`` (none): more cluster admins, ``{label: role ARN}``; the label names
      the access entry resources.
    - ``system_node_group`` (defaults): the tainted system node group, a
      ``SystemNodeGroupArgs``.
    - ``enable_deletion_protection`` (on): EKS refuses to delete the cluster until it is
      turned off.
    - ``support_type`` ("STANDARD"): ``EXTENDED`` keeps an old minor running past standard
      support, at extra hourly cost.
    - ``tags``: added to every resource.
    """

    cluster_name: str
    region: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    kubernetes_version: str = EKS_KUBERNETES_VERSION
    kms_key: KmsKey | None = None
    enable_public_endpoint: bool = False
    public_access_cidrs: tuple[str, ...] = ()
    private_access_cidrs: tuple[str, ...] = ()
    additional_log_types: tuple[OptionalLogType, ...] = ()
    log_retention_days: int = 90
    enable_creator_admin: bool = True
    admin_role_arns: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    system_node_group: SystemNodeGroupArgs = field(default_factory=SystemNodeGroupArgs)
    enable_deletion_protection: bool = True
    support_type: SupportType = "STANDARD"
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_cluster_name(self.cluster_name)
        validate_region(self.region)
        if self.kubernetes_version not in EKS_SUPPORTED_KUBERNETES_VERSIONS:
            raise BlueprintConfigError(
                "kubernetes_version",
                self.kubernetes_version,
                "Use a Kubernetes minor whose EKS add-ons are pinned in versions.py: "
                + ", ".join(EKS_SUPPORTED_KUBERNETES_VERSIONS)
                + ".",
            )
        if self.enable_public_endpoint and not self.public_access_cidrs:
            raise BlueprintConfigError(
                "public_access_cidrs",
                list(self.public_access_cidrs),
                "A public endpoint needs the ranges allowed to reach it: list your office, VPN "
                "or CI egress ranges (e.g. ('203.0.113.0/24',)), or keep the endpoint private.",
            )
        if self.public_access_cidrs and not self.enable_public_endpoint:
            raise BlueprintConfigError(
                "public_access_cidrs",
                list(self.public_access_cidrs),
                "These ranges only apply to a public endpoint: set enable_public_endpoint=True "
                "to open one, or remove them.",
            )
        validate_access_cidrs(self.public_access_cidrs, field="public_access_cidrs", public=True)
        validate_access_cidrs(self.private_access_cidrs, field="private_access_cidrs", public=False)
        for log_type in self.additional_log_types:
            if log_type not in get_args(OptionalLogType):
                raise BlueprintConfigError(
                    "additional_log_types",
                    log_type,
                    "Use 'controllerManager' and/or 'scheduler' (api, audit and authenticator "
                    "are always on).",
                )
        validate_retention_days(self.log_retention_days, field="log_retention_days")
        for label in self.admin_role_arns:
            if not _LABEL.match(label):
                raise BlueprintConfigError(
                    "admin_role_arns",
                    label,
                    "Label each admin with up to 32 lowercase letters, digits and '-' "
                    "(e.g. {'platform-team': 'arn:aws:iam::123456789012:role/platform'}).",
                )
        if self.support_type not in get_args(SupportType):
            raise BlueprintConfigError(
                "support_type", self.support_type, "Use 'STANDARD' or 'EXTENDED'."
            )
        if self.kms_key is not None:
            logs = f"logs.{self.region}.amazonaws.com"
            if logs not in self.kms_key.service_principals:
                raise BlueprintConfigError(
                    "kms_key",
                    self.kms_key.service_principals,
                    f"The cluster encrypts its log group with this key: create the key with "
                    f"service_principals including '{logs}'.",
                )
            if not self.kms_key.allows_autoscaling_volumes:
                raise BlueprintConfigError(
                    "kms_key",
                    False,
                    "Node root volumes use this key: create it with "
                    "enable_autoscaling_volume_encryption=True.",
                )

    @property
    def log_types(self) -> list[str]:
        return [*BASE_LOG_TYPES, *dict.fromkeys(self.additional_log_types)]


class EksCluster(pulumi.ComponentResource):
    """EKS cluster, private by default, with a tainted system node group and core add-ons.

    Secrets are envelope-encrypted with a customer-managed key; api, audit and authenticator
    logs go to a retained, encrypted log group; access uses the EKS API mode with access
    entries; an IAM OIDC provider enables IRSA and the Pod Identity agent enables Pod
    Identity; nodes require IMDSv2 with a hop limit of 1, so pods cannot borrow the node role.
    Children (``{name}-<suffix>``): ``key`` (unless given), ``cluster-role``,
    ``cluster-role-<policy>``, ``log-group``, ``control-plane-sg``, ``api-from-<cidr>``,
    ``cluster``, ``node-sg-discovery-tag``, ``oidc``, ``creator-access``, ``creator-admin``,
    ``admin-<label>-access``, ``admin-<label>-admin``, ``node-role``, ``node-role-<policy>``,
    ``addon-vpc-cni``, ``addon-kube-proxy``, ``addon-eks-pod-identity-agent``, ``system-lt``,
    ``system``, ``addon-coredns``.
    """

    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    control_plane_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    node_role_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cluster:EksCluster", name, None, opts)
        invoke_opts = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke_opts).partition
        addon_versions = EKS_ADDON_VERSIONS[args.kubernetes_version]
        node_group = args.system_node_group
        tags = {**args.tags, "mlops-blueprints.io/cluster": args.cluster_name}

        self.kms_key = args.kms_key or KmsKey(
            f"{name}-key",
            KmsKeyArgs(
                alias=f"alias/{args.cluster_name}-eks",
                description=f"EKS cluster {args.cluster_name}: Secrets, logs and node volumes",
                service_principals=(f"logs.{args.region}.amazonaws.com",),
                enable_autoscaling_volume_encryption=True,
                tags=tags,
            ),
            child_opts(self),
        )

        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=json.dumps(cluster_trust_policy()),
            tags=tags,
            opts=child_opts(self),
        )
        cluster_role_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-cluster-role-{policy.lower().replace('_', '-')}",
                role=cluster_role.name,
                policy_arn=partition.apply(lambda p, n=policy: managed_policy_arn(n, partition=p)),
                opts=child_opts(self),
            )
            for policy in CLUSTER_MANAGED_POLICIES
        ]
        secrets_grant = self.kms_key.grant_cluster_secrets(cluster_role.arn, grantee=name)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            # EKS writes to exactly this name; creating it first sets retention and the key.
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=self.kms_key.key_arn,
            tags=tags,
            # Control-plane audit records outlive the stack.
            opts=child_opts(self, retain_on_delete=True),
        )

        control_plane_sg = aws.ec2.SecurityGroup(
            f"{name}-control-plane-sg",
            vpc_id=args.vpc_id,
            description=f"EKS {args.cluster_name} API: extra sources allowed to reach it",
            tags={**tags, "Name": f"{args.cluster_name}-control-plane"},
            opts=child_opts(self),
        )
        for cidr in args.private_access_cidrs:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-from-{re.sub(r'[./]', '-', cidr)}",
                security_group_id=control_plane_sg.id,
                description=f"Kubernetes API from {cidr}",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4=cidr,
                opts=child_opts(self),
            )

        vpc_config: dict[str, object] = {
            "subnet_ids": args.subnet_ids,
            "security_group_ids": [control_plane_sg.id],
            "endpoint_private_access": True,
            "endpoint_public_access": args.enable_public_endpoint,
        }
        if args.enable_public_endpoint:
            vpc_config["public_access_cidrs"] = list(args.public_access_cidrs)
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=vpc_config,
            encryption_config={
                "resources": ["secrets"],
                "provider": {"key_arn": self.kms_key.key_arn},
            },
            enabled_cluster_log_types=args.log_types,
            access_config={
                "authentication_mode": "API",
                # The creator's access is an explicit, removable access entry below.
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            # The core add-ons are installed as managed add-ons, at pinned versions.
            bootstrap_self_managed_addons=False,
            deletion_protection=args.enable_deletion_protection,
            upgrade_policy={"support_type": args.support_type},
            tags=tags,
            opts=child_opts(self, depends_on=[log_group, secrets_grant, *cluster_role_policies]),
        )
        node_security_group_id = self.cluster.vpc_config.apply(
            lambda c: c.cluster_security_group_id
        )
        # Managed nodes use the security group EKS creates; Karpenter finds it by this tag.
        aws.ec2.Tag(
            f"{name}-node-sg-discovery-tag",
            resource_id=node_security_group_id,
            key="karpenter.sh/discovery",
            value=args.cluster_name,
            opts=child_opts(self),
        )
        issuer = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],
            tags=tags,
            opts=child_opts(self),
        )

        admins: dict[str, pulumi.Input[str]] = {}
        if args.enable_creator_admin:
            caller = aws.get_caller_identity_output(opts=invoke_opts)
            session = aws.iam.get_session_context_output(arn=caller.arn, opts=invoke_opts)
            # An assumed-role session is entered by its role ARN; for IAM users AWS passes
            # the caller ARN through as the issuer.
            admins["creator"] = pulumi.Output.all(session.issuer_arn, caller.arn).apply(
                lambda v: str(v[0] or v[1])
            )
        admins.update({f"admin-{label}": arn for label, arn in args.admin_role_arns.items()})
        for label, principal in admins.items():
            entry = aws.eks.AccessEntry(
                f"{name}-{label}-access",
                cluster_name=self.cluster.name,
                principal_arn=principal,
                type="STANDARD",
                tags=tags,
                opts=child_opts(self),
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-{label}-admin",
                cluster_name=self.cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=partition.apply(
                    lambda p: access_policy_arn(CLUSTER_ADMIN_ACCESS_POLICY, partition=p)
                ),
                access_scope={"type": "cluster"},
                opts=child_opts(self),
            )

        node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=json.dumps(node_trust_policy()),
            tags=tags,
            opts=child_opts(self),
        )
        node_role_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-role-{policy.lower().replace('_', '-')}",
                role=node_role.name,
                policy_arn=partition.apply(lambda p, n=policy: managed_policy_arn(n, partition=p)),
                opts=child_opts(self),
            )
            for policy in NODE_MANAGED_POLICIES
        ]

        def addon(
            addon_name: str, *, depends_on: list[pulumi.Resource], config: str | None = None
        ) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-addon-{addon_name}",
                cluster_name=self.cluster.name,
                addon_name=addon_name,
                addon_version=addon_versions[addon_name],
                configuration_values=config,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags,
                opts=child_opts(self, depends_on=depends_on),
            )

        # Networking and identity add-ons come before the nodes, so nodes join Ready.
        before_compute = [
            # The VPC CNI enforces NetworkPolicies only with its policy agent on; every
            # platform namespace relies on them (default deny).
            addon("vpc-cni", depends_on=[], config=json.dumps({"enableNetworkPolicy": "true"})),
            addon("kube-proxy", depends_on=[]),
            addon("eks-pod-identity-agent", depends_on=[]),
        ]

        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-system-lt",
            description=f"EKS {args.cluster_name} system nodes: IMDSv2 only, encrypted root",
            update_default_version=True,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                # Pods (one hop further) cannot reach the instance metadata service.
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": node_group.disk_size_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "kms_key_id": self.kms_key.key_arn,
                        "delete_on_termination": "true",
                    },
                }
            ],
            tag_specifications=[
                {"resource_type": kind, "tags": {**tags, "Name": f"{args.cluster_name}-system"}}
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=tags,
            opts=child_opts(self),
        )
        system = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=self.cluster.name,
            node_group_name_prefix="system-",
            version=self.cluster.version,
            node_role_arn=node_role.arn,
            subnet_ids=args.subnet_ids,
            instance_types=list(node_group.instance_types),
            ami_type=node_group.ami_type,
            capacity_type=node_group.capacity_type,
            scaling_config={
                "min_size": node_group.min_size,
                "desired_size": node_group.desired_size,
                "max_size": node_group.max_size,
            },
            launch_template={
                "id": launch_template.id,
                "version": launch_template.latest_version.apply(_template_version),
            },
            taints=[SYSTEM_TAINT],
            labels={"mlops-blueprints.io/node-pool": "system"},
            update_config={"max_unavailable": 1},
            node_repair_config={"enabled": True},
            tags=tags,
            opts=child_opts(self, depends_on=[*node_role_policies, *before_compute]),
        )
        # CoreDNS needs somewhere to run: after the nodes (it tolerates CriticalAddonsOnly).
        addon("coredns", depends_on=[system])

        self.cluster_name = self.cluster.name
        self.cluster_arn = self.cluster.arn
        self.endpoint = self.cluster.endpoint
        self.certificate_authority = self.cluster.certificate_authority.apply(lambda ca: ca.data)
        self.kubeconfig = pulumi.Output.all(
            self.cluster.name, self.endpoint, self.certificate_authority
        ).apply(
            lambda v: build_kubeconfig(
                cluster_name=v[0],
                endpoint=v[1],
                certificate_authority_data=v[2],
                region=args.region,
            )
        )
        self.oidc_provider_arn = oidc.arn
        self.oidc_issuer_url = issuer
        self.node_security_group_id = node_security_group_id
        self.control_plane_security_group_id = control_plane_sg.id
        self.node_role_arn = node_role.arn
        self.node_role_name = node_role.name
        self.kms_key_arn = self.kms_key.key_arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "certificate_authority": self.certificate_authority,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer_url": self.oidc_issuer_url,
                "node_security_group_id": self.node_security_group_id,
                "node_role_arn": self.node_role_arn,
                "kms_key_arn": self.kms_key_arn,
            }
        )


def _template_version(version: int | None) -> str:
    # EKS stores the numeric version; "$Latest" only stands in before it is known.
    return "$Latest" if version is None else str(int(version))
