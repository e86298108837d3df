"""The EKS cluster: validation, the hardened render, the kubeconfig, and its key grant on moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mlops_blueprints.components.cluster import (
    NODE_MANAGED_POLICIES,
    EksCluster,
    EksClusterArgs,
    SystemNodeGroupArgs,
    build_kubeconfig,
    cluster_trust_policy,
    node_trust_policy,
)
from mlops_blueprints.components.keys import KmsKey, KmsKeyArgs, key_policy, key_use_statements

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import RenderCapture
from mlops_blueprints.versions import (
    EKS_ADDON_VERSIONS,
    EKS_KUBERNETES_VERSION,
    EKS_SUPPORTED_KUBERNETES_VERSIONS,
)
from tests.moto._harness import REGION, assumed_role, aws_account, is_denied

ACCOUNT = "123456789012"
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/cluster-key-key"

# --- helpers ------------------------------------------------------------------------------


def _by_name(capture: RenderCapture) -> dict[str, Any]:
    names = [r.name for r in capture.registrations]
    assert len(names) == len(set(names)), "resource names must be unique"
    return {r.name: r for r in capture.registrations}


def _children(capture: RenderCapture, parent: str) -> dict[str, str]:
    resources = _by_name(capture)
    urn = resources[parent].urn
    return {r.name: r.type for r in capture.registrations if r.parent == urn}


def _args(**kwargs: Any) -> EksClusterArgs:
    base: dict[str, Any] = {
        "cluster_name": "mlops-dev",
        "region": "us-east-1",
        "vpc_id": "vpc-123",
        "subnet_ids": SUBNETS,
    }
    return EksClusterArgs(**{**base, **kwargs})


def _denied(call: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return is_denied(error)
    return False


@pytest.fixture
def default_cluster(render: Callable[..., RenderCapture]) -> RenderCapture:
    return render(
        lambda: EksCluster(
            "cluster",
            _args(
                admin_role_arns={"platform-team": f"arn:aws:iam::{ACCOUNT}:role/platform"},
                private_access_cidrs=("10.100.0.0/16",),
            ),
        )
    )


# --- validation ---------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "field", "value", "fix"),
    [
        ({"enable_public_endpoint": True}, "public_access_cidrs", [], "list your office"),
        (
            {"enable_public_endpoint": True, "public_access_cidrs": ("0.0.0.0/0",)},
            "public_access_cidrs",
            "0.0.0.0/0",
            "not allowed",
        ),
        (
            {
                "enable_public_endpoint": True,
                "public_access_cidrs": ("203.0.113.0/24", "0.0.0.0/0"),
            },
            "public_access_cidrs",
            "0.0.0.0/0",
            "not allowed",
        ),
        (
            {"enable_public_endpoint": True, "public_access_cidrs": ("10.0.0.0/8",)},
            "public_access_cidrs",
            "10.0.0.0/8",
            "private_access_cidrs",
        ),
        (
            {"enable_public_endpoint": True, "public_access_cidrs": ("203.0.113.5/24",)},
            "public_access_cidrs",
            "203.0.113.5/24",
            "CIDR notation",
        ),
        (
            {"enable_public_endpoint": True, "public_access_cidrs": ("2001:db8::/32",)},
            "public_access_cidrs",
            "2001:db8::/32",
            "IPv4",
        ),
        (
            {"public_access_cidrs": ("203.0.113.0/24",)},
            "public_access_cidrs",
            ["203.0.113.0/24"],
            "enable_public_endpoint=True",
        ),
        (
            {"private_access_cidrs": ("203.0.113.0/24",)},
            "private_access_cidrs",
            "203.0.113.0/24",
            "private ranges",
        ),
        (
            {"kubernetes_version": "1.29"},
            "kubernetes_version",
            "1.29",
            ", ".join(EKS_SUPPORTED_KUBERNETES_VERSIONS),
        ),
        ({"additional_log_types": ("audit",)}, "additional_log_types", "audit", "'scheduler'"),
        ({"log_retention_days": 10}, "log_retention_days", 10, "retention periods"),
        (
            {"admin_role_arns": {"Platform Team": "arn:aws:iam::123456789012:role/x"}},
            "admin_role_arns",
            "Platform Team",
            "lowercase",
        ),
        ({"support_type": "LTS"}, "support_type", "LTS", "'EXTENDED'"),
        ({"region": "us_east_1"}, "region", "us_east_1", "region code"),
        ({"cluster_name": "mlops dev"}, "cluster_name", "mlops dev", "1-100 letters"),
    ],
)
def test_bad_cluster_args_fail_with_field_value_and_fix(
    kwargs: dict[str, Any], field: str, value: object, fix: str
) -> None:
    with pytest.raises(BlueprintConfigError) as error:
        _args(**kwargs)
    assert error.value.field == field
    assert error.value.value == value
    assert fix in error.value.fix


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "field", "value", "fix"),
    [
        (
            {"min_size": 4, "max_size": 3, "desired_size": 3},
            "system_node_group.min_size",
            4,
            "must not exceed max_size (3)",
        ),
        (
            {"desired_size": 5},
            "system_node_group.desired_size",
            5,
            "between min_size (2) and max_size (3)",
        ),
        ({"min_size": 0, "desired_size": 0}, "system_node_group.min_size", 0, "at least 1"),
        ({"instance_types": ()}, "system_node_group.instance_types", [], "m7i.large"),
        (
            {"instance_types": ("large",)},
            "system_node_group.instance_types",
            ["large"],
            "m7i.large",
        ),
        ({"disk_size_gib": 10}, "system_node_group.disk_size_gib", 10, "20 to 16384"),
        (
            {"ami_type": "AL2_x86_64"},
            "system_node_group.ami_type",
            "AL2_x86_64",
            "AL2023_x86_64_STANDARD",
        ),
        ({"capacity_type": "RESERVED"}, "system_node_group.capacity_type", "RESERVED", "'SPOT'"),
    ],
)
def test_bad_node_group_args_fail_with_field_value_and_fix(
    kwargs: dict[str, Any], field: str, value: object, fix: str
) -> None:
    with pytest.raises(BlueprintConfigError) as error:
        SystemNodeGroupArgs(**kwargs)
    assert error.value.field == field
    assert error.value.value == value
    assert fix in error.value.fix


@pytest.mark.unit
def test_a_given_key_must_serve_logs_and_node_volumes(render: Callable[..., RenderCapture]) -> None:
    errors: list[BlueprintConfigError] = []

    def program() -> None:
        no_logs = KmsKey(
            "no-logs", KmsKeyArgs(alias="no-logs", enable_autoscaling_volume_encryption=True)
        )
        no_volumes = KmsKey(
            "no-volumes",
            KmsKeyArgs(alias="no-volumes", service_principals=("logs.us-east-1.amazonaws.com",)),
        )
        for key in (no_logs, no_volumes):
            try:
                _args(kms_key=key)
            except BlueprintConfigError as error:
                errors.append(error)

    render(program)
    assert [(e.field, e.value) for e in errors] == [("kms_key", ()), ("kms_key", False)]
    assert "'logs.us-east-1.amazonaws.com'" in errors[0].fix
    assert "enable_autoscaling_volume_encryption=True" in errors[1].fix


@pytest.mark.unit
def test_default_version_is_supported_and_pinned() -> None:
    assert EKS_KUBERNETES_VERSION in EKS_SUPPORTED_KUBERNETES_VERSIONS
    for version in EKS_SUPPORTED_KUBERNETES_VERSIONS:
        addons = EKS_ADDON_VERSIONS[version]
        assert set(addons) == {"vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"}
        assert addons["kube-proxy"].startswith(f"v{version}.")
        assert all("-eksbuild." in v for v in addons.values())


# --- the rendered component ---------------------------------------------------------------


@pytest.mark.unit
def test_cluster_children(default_cluster: RenderCapture) -> None:
    assert _children(default_cluster, "cluster") == {
        "cluster-key": "mlops:keys:KmsKey",
        "cluster-cluster-role": "aws:iam/role:Role",
        "cluster-cluster-role-amazoneksclusterpolicy": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "cluster-log-group": "aws:cloudwatch/logGroup:LogGroup",
        "cluster-control-plane-sg": "aws:ec2/securityGroup:SecurityGroup",
        "cluster-api-from-10-100-0-0-16": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "cluster-cluster": "aws:eks/cluster:Cluster",
        "cluster-node-sg-discovery-tag": "aws:ec2/tag:Tag",
        "cluster-oidc": "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "cluster-creator-access": "aws:eks/accessEntry:AccessEntry",
        "cluster-creator-admin": "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "cluster-admin-platform-team-access": "aws:eks/accessEntry:AccessEntry",
        "cluster-admin-platform-team-admin": "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "cluster-node-role": "aws:iam/role:Role",
        "cluster-node-role-amazoneksworkernodepolicy": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "cluster-node-role-amazoneks-cni-policy": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "cluster-node-role-amazonec2containerregistrypullonly": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "cluster-addon-vpc-cni": "aws:eks/addon:Addon",
        "cluster-addon-kube-proxy": "aws:eks/addon:Addon",
        "cluster-addon-eks-pod-identity-agent": "aws:eks/addon:Addon",
        "cluster-system-lt": "aws:ec2/launchTemplate:LaunchTemplate",
        "cluster-system": "aws:eks/nodeGroup:NodeGroup",
        "cluster-addon-coredns": "aws:eks/addon:Addon",
    }
    assert _children(default_cluster, "cluster-key") == {
        "cluster-key-key": "aws:kms/key:Key",
        "cluster-key-alias": "aws:kms/alias:Alias",
        "cluster-key-cluster-secrets-cluster": "aws:iam/rolePolicy:RolePolicy",
    }


@pytest.mark.unit
def test_endpoint_is_private_and_secrets_are_encrypted_with_the_key(
    default_cluster: RenderCapture,
) -> None:
    resources = _by_name(default_cluster)
    cluster = resources["cluster-cluster"]
    inputs = cluster.inputs
    assert inputs["name"] == "mlops-dev"
    assert inputs["version"] == EKS_KUBERNETES_VERSION
    assert inputs["vpcConfig"] == {
        "subnetIds": SUBNETS,
        "securityGroupIds": ["cluster-control-plane-sg-id"],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
    }
    assert inputs["encryptionConfig"] == {
        "resources": ["secrets"],
        "provider": {"keyArn": KEY_ARN},
    }
    assert inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["deletionProtection"] is True
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    # The cluster waits for its log group and for the role's permission to use the key.
    for dependency in ("cluster-log-group", "cluster-key-cluster-secrets-cluster"):
        assert resources[dependency].urn in cluster.dependencies
    grant = json.loads(resources["cluster-key-cluster-secrets-cluster"].inputs["policy"])
    assert grant["Statement"] == key_use_statements("cluster-secrets", KEY_ARN)
    assert resources["cluster-key-cluster-secrets-cluster"].inputs["role"] == "cluster-cluster-role"
    # The cluster's own key serves its log group and node volumes.
    policy = json.loads(resources["cluster-key-key"].inputs["policy"])
    principals = [s["Principal"] for s in policy["Statement"]]
    assert {"Service": "logs.us-east-1.amazonaws.com"} in principals
    assert {
        "AWS": [
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        ]
    } in principals


@pytest.mark.unit
def test_control_plane_logs_are_retained_and_encrypted(default_cluster: RenderCapture) -> None:
    group = _by_name(default_cluster)["cluster-log-group"]
    assert group.retain_on_delete is True
    assert group.inputs == {
        "name": "/aws/eks/mlops-dev/cluster",
        "retentionInDays": 90,
        "kmsKeyId": KEY_ARN,
        "tags": {"mlops-blueprints.io/cluster": "mlops-dev"},
    }


@pytest.mark.unit
def test_nodes_require_imdsv2_hop_1_and_encrypted_root_volumes(
    default_cluster: RenderCapture,
) -> None:
    resources = _by_name(default_cluster)
    template = resources["cluster-system-lt"].inputs
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    }
    assert template["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {
                "volumeSize": 50,
                "volumeType": "gp3",
                "encrypted": "true",
                "kmsKeyId": KEY_ARN,
                "deleteOnTermination": "true",
            },
        }
    ]
    group = resources["cluster-system"]
    assert group.inputs["launchTemplate"]["id"] == "cluster-system-lt-id"
    assert group.inputs["subnetIds"] == SUBNETS
    assert group.inputs["taints"] == [
        {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
    ]
    assert group.inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 2, "maxSize": 3}
    assert group.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert group.inputs["nodeRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/cluster-node-role"
    assert "remoteAccess" not in group.inputs


@pytest.mark.unit
def test_node_role_has_exactly_the_managed_worker_policies(default_cluster: RenderCapture) -> None:
    resources = _by_name(default_cluster)
    attachments = [
        r
        for r in default_cluster.registrations
        if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
        and r.inputs["role"] == "cluster-node-role"
    ]
    assert sorted(a.inputs["policyArn"] for a in attachments) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]
    assert len(NODE_MANAGED_POLICIES) == 3
    assert not [
        r
        for r in default_cluster.registrations
        if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs["role"] == "cluster-node-role"
    ]
    node_role = resources["cluster-node-role"].inputs
    assert json.loads(node_role["assumeRolePolicy"]) == node_trust_policy()
    cluster_role = resources["cluster-cluster-role"].inputs
    assert json.loads(cluster_role["assumeRolePolicy"]) == cluster_trust_policy()


@pytest.mark.unit
def test_addons_are_pinned_and_ordered_around_the_nodes(default_cluster: RenderCapture) -> None:
    resources = _by_name(default_cluster)
    pinned = EKS_ADDON_VERSIONS[EKS_KUBERNETES_VERSION]
    for addon, version in pinned.items():
        inputs = resources[f"cluster-addon-{addon}"].inputs
        assert inputs["addonName"] == addon
        assert inputs["addonVersion"] == version
        assert inputs["clusterName"] == "mlops-dev"
    assert json.loads(resources["cluster-addon-vpc-cni"].inputs["configurationValues"]) == {
        "enableNetworkPolicy": "true"
    }
    node_group = resources["cluster-system"]
    for addon in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert resources[f"cluster-addon-{addon}"].urn in node_group.dependencies
    assert node_group.urn in resources["cluster-addon-coredns"].dependencies


@pytest.mark.unit
def test_access_entries_and_oidc_provider(default_cluster: RenderCapture) -> None:
    resources = _by_name(default_cluster)
    assert resources["cluster-oidc"].inputs["url"].startswith("https://oidc.eks.us-east-1")
    assert resources["cluster-oidc"].inputs["clientIdLists"] == ["sts.amazonaws.com"]
    creator = resources["cluster-creator-access"].inputs
    assert creator["principalArn"] == f"arn:aws:iam::{ACCOUNT}:user/render"
    assert creator["type"] == "STANDARD"
    admin = resources["cluster-admin-platform-team-admin"].inputs
    assert admin == {
        "clusterName": "mlops-dev",
        "principalArn": f"arn:aws:iam::{ACCOUNT}:role/platform",
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        "accessScope": {"type": "cluster"},
    }
    rule = resources["cluster-api-from-10-100-0-0-16"].inputs
    assert (rule["fromPort"], rule["toPort"], rule["cidrIpv4"]) == (443, 443, "10.100.0.0/16")
    tag = resources["cluster-node-sg-discovery-tag"].inputs
    assert (tag["key"], tag["value"]) == ("karpenter.sh/discovery", "mlops-dev")


@pytest.mark.unit
def test_cluster_outputs(default_cluster: RenderCapture) -> None:
    outputs = default_cluster.outputs[_by_name(default_cluster)["cluster"].urn]
    assert outputs["cluster_name"] == "mlops-dev"
    assert outputs["endpoint"] == "https://mlops-dev.gr7.us-east-1.eks.amazonaws.com"
    assert outputs["oidc_issuer_url"] == "https://oidc.eks.us-east-1.amazonaws.com/id/MOCK"
    assert outputs["oidc_provider_arn"] == (
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/MOCK"
    )
    assert outputs["kms_key_arn"] == KEY_ARN
    assert outputs["node_role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/cluster-node-role"
    kubeconfig = json.loads(outputs["kubeconfig"])
    assert kubeconfig == json.loads(
        build_kubeconfig(
            cluster_name="mlops-dev",
            endpoint=outputs["endpoint"],
            certificate_authority_data=outputs["certificate_authority"],
            region="us-east-1",
        )
    )


@pytest.mark.unit
def test_public_endpoint_with_a_shared_key(render: Callable[..., RenderCapture]) -> None:
    def program() -> None:
        key = KmsKey(
            "platform-key",
            KmsKeyArgs(
                alias="mlops-platform",
                service_principals=("logs.us-east-1.amazonaws.com",),
                enable_autoscaling_volume_encryption=True,
            ),
        )
        EksCluster(
            "cluster",
            _args(
                kms_key=key,
                enable_public_endpoint=True,
                public_access_cidrs=("203.0.113.0/24",),
                additional_log_types=("scheduler", "controllerManager"),
                enable_creator_admin=False,
                system_node_group=SystemNodeGroupArgs(
                    instance_types=("m7g.large",), ami_type="AL2023_ARM_64_STANDARD", max_size=5
                ),
            ),
        )

    capture = render(program)
    resources = _by_name(capture)
    children = _children(capture, "cluster")
    assert "cluster-key" not in children
    assert "cluster-creator-access" not in children
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/platform-key-key"
    cluster = resources["cluster-cluster"].inputs
    assert cluster["encryptionConfig"]["provider"] == {"keyArn": key_arn}
    assert cluster["vpcConfig"]["endpointPublicAccess"] is True
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert cluster["enabledClusterLogTypes"] == [
        "api",
        "audit",
        "authenticator",
        "scheduler",
        "controllerManager",
    ]
    assert _children(capture, "platform-key")["platform-key-cluster-secrets-cluster"] == (
        "aws:iam/rolePolicy:RolePolicy"
    )
    group = resources["cluster-system"].inputs
    assert group["instanceTypes"] == ["m7g.large"]
    assert group["scalingConfig"]["maxSize"] == 5


# --- kubeconfig ---------------------------------------------------------------------------


@pytest.mark.unit
def test_kubeconfig_uses_aws_eks_get_token() -> None:
    text = build_kubeconfig(
        cluster_name="mlops-dev",
        endpoint="https://ABC.gr7.eu-west-1.eks.amazonaws.com",
        certificate_authority_data="Q0E=",
        region="eu-west-1",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/deployer",
    )
    config = json.loads(text)
    assert config["current-context"] == "mlops-dev"
    assert config["clusters"][0]["cluster"] == {
        "server": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
        "certificate-authority-data": "Q0E=",
    }
    exec_config = config["users"][0]["user"]["exec"]
    assert exec_config["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_config["command"] == "aws"
    assert exec_config["args"] == [
        "--region",
        "eu-west-1",
        "eks",
        "get-token",
        "--cluster-name",
        "mlops-dev",
        "--role-arn",
        f"arn:aws:iam::{ACCOUNT}:role/deployer",
        "--output",
        "json",
    ]
    assert "token" not in json.dumps(config["users"]).replace("get-token", "")
    with pytest.raises(BlueprintConfigError) as error:
        build_kubeconfig(
            cluster_name="x", endpoint="http://x", certificate_authority_data="", region="eu-west-1"
        )
    assert (error.value.field, error.value.value) == ("endpoint", "http://x")


# --- moto ---------------------------------------------------------------------------------


@pytest.mark.moto
def test_cluster_role_key_grant_holds_on_moto() -> None:
    """Action-level proof: moto authorises KMS against the resource ``*`` only, so the grant's
    resource is widened to ``*`` here; that it names exactly the cluster key is asserted on the
    render (test_endpoint_is_private_and_secrets_are_encrypted_with_the_key)."""
    with aws_account():
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key(Policy=json.dumps(key_policy(ACCOUNT)))["KeyMetadata"]["Arn"]
        statements = key_use_statements("cluster-secrets", key_arn)
        document = {
            "Version": "2012-10-17",
            "Statement": [{**s, "Resource": "*"} for s in statements],
        }
        with assumed_role("eks-cluster", [document]) as session:
            client = session.client("kms")
            blob = client.encrypt(KeyId=key_arn, Plaintext=b"dek")["CiphertextBlob"]
            assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"dek"
            assert client.describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn
            client.list_grants(KeyId=key_arn)
            assert _denied(client.schedule_key_deletion, KeyId=key_arn, PendingWindowInDays=7)
            assert _denied(client.put_key_policy, KeyId=key_arn, PolicyName="default", Policy="{}")
            assert _denied(client.generate_data_key, KeyId=key_arn, KeySpec="AES_256")
            assert _denied(
                client.create_grant,
                KeyId=key_arn,
                GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/other",
                Operations=["Decrypt"],
            )
