"""Karpenter node pools on aws: the component under mocks, its documents, and moto proofs.

The component is rendered under mocks; the exact children, the security-relevant inputs, the
dependencies that give a safe destroy order and ``mlops-bp check`` (CRDs, Helm values, ordering)
are asserted. The controller's permissions are proven on moto with IAM enforcement.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from mlops_blueprints.components.node_pools import (
    HARDWARE_CLASS_LABEL,
    INTERRUPTION_EVENT_PATTERNS,
    NODE_POOL_LABEL,
    KarpenterNodePools,
    KarpenterNodePoolsArgs,
    NodePoolSpec,
    Taint,
    default_interruption_queue_name,
    interruption_queue_policy,
    karpenter_controller_policy,
    neuron_chart_values,
    node_trust_policy,
    nvidia_device_plugin_values,
)
from moto.iam.access_control import IAMPolicy, PermissionResult

from mlops_blueprints.check import CheckReport, run_checks
from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import Registration, RenderCapture, run_program, write_rendered
from mlops_blueprints.versions import CHARTS, IMAGES
from tests.moto._harness import ACCOUNT_ID, REGION, assumed_role, aws_account, is_denied

CLUSTER = "mlops-dev"
ENDPOINT = "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
OIDC_URL = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# What the render fakes answer for the queue and roles (see mlops_blueprints.render._fakes).
FAKE_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:queue/np-interruption-queue"
FAKE_NODE_ROLE_ARN = "arn:aws:iam::123456789012:role/np-node-role"

POOLS = (
    NodePoolSpec(name="general"),
    NodePoolSpec(name="gpu", hardware_class="nvidia-gpu", max_nodes=4, enable_spot=True),
    NodePoolSpec(name="inferentia", hardware_class="neuron", instance_families=("inf2",)),
)


def _args(**overrides: Any) -> KarpenterNodePoolsArgs:
    values: dict[str, Any] = {
        "cluster_name": CLUSTER,
        "cluster_endpoint": ENDPOINT,
        "oidc_provider_arn": OIDC_ARN,
        "oidc_issuer_url": OIDC_URL,
        "node_pools": POOLS,
        **overrides,
    }
    return KarpenterNodePoolsArgs(**values)


def _check(out: Path) -> CheckReport:
    return run_checks(out, upstream=Path(os.environ["MLOPS_BP_UPSTREAM_DIR"]))


def _render(args: KarpenterNodePoolsArgs, out: Path) -> RenderCapture:
    capture = run_program(
        lambda: KarpenterNodePools("np", args), project="mlops-platform", stack="test", config={}
    )
    write_rendered(capture, out)
    return capture


def _by_name(capture: RenderCapture) -> dict[str, Registration]:
    names = [r.name for r in capture.registrations]
    assert len(names) == len(set(names)), "resource names must be unique"
    return {r.name: r for r in capture.registrations}


def _children(capture: RenderCapture, parent: str) -> dict[str, str]:
    urn = _by_name(capture)[parent].urn
    return {r.name: r.type for r in capture.registrations if r.parent == urn}


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderCapture, Path]:
    """All three classes, a customer-managed volume key and a tag."""
    out = tmp_path_factory.mktemp("node-pools")
    return _render(_args(kms_key_arn=KMS_KEY, tags={"team": "ml"}), out), out


# --- component under mocks ----------------------------------------------------------------

_EVENTS = ("scheduled-change", "spot-interruption", "rebalance", "state-change")


@pytest.mark.unit
def test_exact_children(full: tuple[RenderCapture, Path]) -> None:
    capture, _ = full
    expected = {
        "np-node-role": "aws:iam/role:Role",
        "np-node-worker-node": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "np-node-cni": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "np-node-ecr-read-only": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "np-node-ssm": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "np-node-access-entry": "aws:eks/accessEntry:AccessEntry",
        "np-interruption-queue": "aws:sqs/queue:Queue",
        "np-interruption-queue-policy": "aws:sqs/queuePolicy:QueuePolicy",
        "np-controller-role": "aws:iam/role:Role",
        "np-controller-policy": "aws:iam/rolePolicy:RolePolicy",
        "np-karpenter": "kubernetes:helm.sh/v3:Release",
        "np-nvidia-device-plugin": "kubernetes:helm.sh/v3:Release",
        "np-neuron-device-plugin": "kubernetes:helm.sh/v3:Release",
    }
    for event in _EVENTS:
        expected[f"np-{event}-rule"] = "aws:cloudwatch/eventRule:EventRule"
        expected[f"np-{event}-target"] = "aws:cloudwatch/eventTarget:EventTarget"
    for pool in ("general", "gpu", "inferentia"):
        expected[f"np-{pool}-node-class"] = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
        expected[f"np-{pool}-node-pool"] = "kubernetes:karpenter.sh/v1:NodePool"
    assert _children(capture, "np") == expected
    assert _by_name(capture)["np"].type == "mlops:nodepools:KarpenterNodePools"


@pytest.mark.unit
def test_node_class_is_hardened(full: tuple[RenderCapture, Path]) -> None:
    resources = _by_name(full[0])
    node_class = resources["np-gpu-node-class"].inputs
    assert node_class["apiVersion"] == "karpenter.k8s.aws/v1"
    assert node_class["metadata"]["name"] == "gpu"
    assert "namespace" not in node_class["metadata"]
    discovery = [{"tags": {"karpenter.sh/discovery": CLUSTER}}]
    assert node_class["spec"] == {
        "role": "np-node-role",
        "amiSelectorTerms": [{"alias": IMAGES["eks-node-al2023"]}],
        "subnetSelectorTerms": discovery,
        "securityGroupSelectorTerms": discovery,
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "rootVolume": True,
                "ebs": {
                    "volumeSize": "200Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "deleteOnTermination": True,
                    "kmsKeyID": KMS_KEY,
                },
            }
        ],
        "tags": {"team": "ml"},
    }
    assert IMAGES["eks-node-al2023"].startswith("al2023@v")
    general = resources["np-general-node-class"].inputs["spec"]["blockDeviceMappings"][0]["ebs"]
    assert general["volumeSize"] == "80Gi"


@pytest.mark.unit
def test_node_pool_spec(full: tuple[RenderCapture, Path]) -> None:
    pool = _by_name(full[0])["np-gpu-node-pool"].inputs
    assert (pool["apiVersion"], pool["kind"], pool["metadata"]["name"]) == (
        "karpenter.sh/v1",
        "NodePool",
        "gpu",
    )
    assert pool["spec"] == {
        "template": {
            "metadata": {"labels": {NODE_POOL_LABEL: "gpu", HARDWARE_CLASS_LABEL: "nvidia-gpu"}},
            "spec": {
                "nodeClassRef": {
                    "group": "karpenter.k8s.aws",
                    "kind": "EC2NodeClass",
                    "name": "gpu",
                },
                "requirements": [
                    {
                        "key": "karpenter.k8s.aws/instance-category",
                        "operator": "In",
                        "values": ["g", "p"],
                    },
                    {
                        "key": "karpenter.k8s.aws/instance-family",
                        "operator": "In",
                        "values": ["g5", "g6", "g6e", "p4d", "p5"],
                    },
                    {
                        "key": "karpenter.sh/capacity-type",
                        "operator": "In",
                        "values": ["spot", "on-demand"],
                    },
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                ],
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                "expireAfter": "720h",
            },
        },
        "limits": {"cpu": 256, "memory": "1024Gi", "nodes": 4},
        "disruption": {
            "consolidationPolicy": "WhenEmptyOrUnderutilized",
            "consolidateAfter": "300s",
            "budgets": [{"nodes": "10%"}],
        },
    }
    general = _by_name(full[0])["np-general-node-pool"].inputs["spec"]["template"]["spec"]
    assert "taints" not in general


@pytest.mark.unit
def test_custom_resources_depend_on_the_controller_release(
    full: tuple[RenderCapture, Path],
) -> None:
    """NodePools are destroyed before the Karpenter release, so their nodes are drained first."""
    resources = _by_name(full[0])
    release = resources["np-karpenter"].urn
    for pool in ("general", "gpu", "inferentia"):
        node_class = resources[f"np-{pool}-node-class"]
        node_pool = resources[f"np-{pool}-node-pool"]
        assert release in node_class.dependencies
        assert release in node_pool.dependencies
        assert node_class.urn in node_pool.dependencies
    # Nodes join only once their role and access entry exist, and keep them while draining.
    for prerequisite in ("np-node-access-entry", "np-node-worker-node", "np-node-cni"):
        assert resources[prerequisite].urn in resources["np-gpu-node-class"].dependencies
    # The controller starts only once its policy exists.
    assert resources["np-controller-policy"].urn in resources["np-karpenter"].dependencies


@pytest.mark.unit
def test_karpenter_release_values(full: tuple[RenderCapture, Path]) -> None:
    release = _by_name(full[0])["np-karpenter"].inputs
    assert release["chart"] == f"{CHARTS['karpenter'].repository}/karpenter"
    assert release["version"] == CHARTS["karpenter"].version == "1.14.1"
    assert (release["name"], release["namespace"]) == ("karpenter", "kube-system")
    assert release["values"] == {
        "settings": {
            "clusterName": CLUSTER,
            "clusterEndpoint": ENDPOINT,
            "interruptionQueue": default_interruption_queue_name(CLUSTER),
        },
        "serviceAccount": {
            "name": "karpenter",
            "annotations": {
                "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/np-controller-role"
            },
        },
        "replicas": 2,
        "controller": {
            "env": [{"name": "AWS_REGION", "value": "us-east-1"}],
            "resources": {
                "requests": {"cpu": "1000m", "memory": "1024Mi"},
                "limits": {"cpu": "1000m", "memory": "1024Mi"},
            },
        },
    }


@pytest.mark.unit
def test_device_plugin_releases(full: tuple[RenderCapture, Path]) -> None:
    resources = _by_name(full[0])
    nvidia = resources["np-nvidia-device-plugin"].inputs
    assert (nvidia["chart"], nvidia["version"]) == ("nvidia-device-plugin", "0.20.0")
    assert nvidia["repositoryOpts"] == {"repo": CHARTS["nvidia-device-plugin"].repository}
    assert nvidia["namespace"] == "kube-system"
    assert nvidia["values"] == nvidia_device_plugin_values([POOLS[1]])
    neuron = resources["np-neuron-device-plugin"].inputs
    assert neuron["chart"] == "oci://public.ecr.aws/neuron/neuron-helm-chart"
    assert neuron["version"] == CHARTS["neuron-helm-chart"].version == "1.0.0"
    assert neuron["values"] == neuron_chart_values([POOLS[2]])


@pytest.mark.unit
def test_device_plugin_values() -> None:
    tainted = NodePoolSpec(
        name="gpu-b", hardware_class="nvidia-gpu", extra_taints=(Taint("example.com/team", "cv"),)
    )
    values = nvidia_device_plugin_values([POOLS[1], tainted])
    assert values["nodeSelector"] == {HARDWARE_CLASS_LABEL: "nvidia-gpu"}
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {
        "nodeSelectorTerms": [
            {
                "matchExpressions": [
                    {"key": HARDWARE_CLASS_LABEL, "operator": "In", "values": ["nvidia-gpu"]}
                ]
            }
        ]
    }
    # Tolerates every GPU pool's taints, once each.
    assert values["tolerations"] == [
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
        {"key": "example.com/team", "operator": "Equal", "value": "cv", "effect": "NoSchedule"},
    ]
    assert values["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    neuron = neuron_chart_values(
        [NodePoolSpec(name="n", hardware_class="neuron", instance_families=("inf2", "trn2"))]
    )
    assert neuron == {
        "neuronInstances": [
            "inf2.xlarge",
            "inf2.8xlarge",
            "inf2.24xlarge",
            "inf2.48xlarge",
            "trn2.48xlarge",
        ],
        "devicePlugin": {
            "nodeSelector": {HARDWARE_CLASS_LABEL: "neuron"},
            "tolerations": [
                {"key": "CriticalAddonsOnly", "operator": "Exists"},
                {
                    "key": "aws.amazon.com/neuron",
                    "operator": "Equal",
                    "value": "true",
                    "effect": "NoSchedule",
                },
            ],
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        },
        "scheduler": {"enabled": False},
        "npd": {"enabled": False},
    }


@pytest.mark.unit
def test_interruption_queue_and_rules(full: tuple[RenderCapture, Path]) -> None:
    resources = _by_name(full[0])
    queue = resources["np-interruption-queue"].inputs
    assert queue == {
        "name": "mlops-dev-karpenter",
        "messageRetentionSeconds": 300,
        "sqsManagedSseEnabled": True,
        "tags": {"team": "ml"},
    }
    policy = resources["np-interruption-queue-policy"].inputs
    assert json.loads(policy["policy"]) == interruption_queue_policy(FAKE_QUEUE_ARN)
    for event in _EVENTS:
        rule = resources[f"np-{event}-rule"].inputs
        assert json.loads(rule["eventPattern"]) == INTERRUPTION_EVENT_PATTERNS[event]
        assert rule["name"] == f"mlops-dev-karpenter-{event}"
        target = resources[f"np-{event}-target"].inputs
        assert (target["rule"], target["arn"]) == (rule["name"], FAKE_QUEUE_ARN)


@pytest.mark.unit
def test_roles_and_access_entry(full: tuple[RenderCapture, Path]) -> None:
    resources = _by_name(full[0])
    node_role = resources["np-node-role"].inputs
    assert json.loads(node_role["assumeRolePolicy"]) == node_trust_policy()
    assert resources["np-node-ssm"].inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    )
    entry = resources["np-node-access-entry"].inputs
    assert (entry["type"], entry["principalArn"], entry["clusterName"]) == (
        "EC2_LINUX",
        FAKE_NODE_ROLE_ARN,
        CLUSTER,
    )
    trust = json.loads(resources["np-controller-role"].inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Condition"]["StringEquals"] == {
        "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub": "system:serviceaccount:kube-system:karpenter",
        "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:aud": "sts.amazonaws.com",
    }
    document = json.loads(resources["np-controller-policy"].inputs["policy"])
    assert document == karpenter_controller_policy(
        partition="aws",
        region="us-east-1",
        account_id="123456789012",
        cluster_name=CLUSTER,
        interruption_queue_arn=FAKE_QUEUE_ARN,
        node_role_arn=FAKE_NODE_ROLE_ARN,
        kms_key_arn=KMS_KEY,
    )


@pytest.mark.unit
def test_cpu_only_with_a_bring_your_own_node_role(tmp_path: Path) -> None:
    role_arn = "arn:aws:iam::123456789012:role/platform/eks-nodes"
    capture = _render(
        _args(
            node_pools=(NodePoolSpec(name="general"),),
            node_role_arn=role_arn,
            enable_node_access_entry=False,
            interruption_queue_name="acme-interruptions",
        ),
        tmp_path,
    )
    children = _children(capture, "np")
    assert "np-node-role" not in children
    assert "np-node-access-entry" not in children
    assert "np-nvidia-device-plugin" not in children
    assert "np-neuron-device-plugin" not in children
    resources = _by_name(capture)
    assert resources["np-general-node-class"].inputs["spec"]["role"] == "eks-nodes"
    ebs = resources["np-general-node-class"].inputs["spec"]["blockDeviceMappings"][0]["ebs"]
    assert ebs["encrypted"] is True
    assert "kmsKeyID" not in ebs
    assert resources["np-interruption-queue"].inputs["name"] == "acme-interruptions"
    document = json.loads(resources["np-controller-policy"].inputs["policy"])
    [pass_role] = [s for s in document["Statement"] if s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"] == role_arn
    assert not [s for s in document["Statement"] if str(s["Action"]).startswith("kms")]
    assert _check(tmp_path).ok


# --- mlops-bp check -----------------------------------------------------------------------


@pytest.mark.schema
def test_render_passes_every_check(full: tuple[RenderCapture, Path]) -> None:
    report = _check(full[1])
    assert report.ok, [f"{f.object}: {f.field}: {f.message}" for f in report.findings]
    assert report.objects_examined["crd"] == 6
    assert report.objects_examined["helm"] == 3
    assert not report.findings


@pytest.mark.schema
def test_a_node_pool_without_a_node_class_ref_fails_the_crd_check(
    full: tuple[RenderCapture, Path], tmp_path: Path
) -> None:
    capture, _ = full
    write_rendered(capture, tmp_path)
    [manifest] = (tmp_path / "manifests").glob("*-nodepool-cluster-gpu.yaml")
    head, _, body = manifest.read_text().partition("\n")
    document = yaml.safe_load(body)
    del document["spec"]["template"]["spec"]["nodeClassRef"]
    manifest.write_text(head + "\n" + yaml.safe_dump(document))
    report = _check(tmp_path)
    assert not report.ok
    [finding] = [f for f in report.findings if f.severity == "error"]
    assert finding.check == "crd"
    assert "nodeClassRef" in finding.message


# --- validation ---------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("overrides", "field", "value", "fix"),
    [
        ({"node_pools": ()}, "node_pools", (), "at least one pool"),
        (
            {"node_pools": (NodePoolSpec(name="general", min_nodes=1),)},
            "node_pool[general].min_nodes",
            1,
            "keeps no minimum; use min_nodes=0",
        ),
        (
            {"node_pools": (NodePoolSpec(name="a"), NodePoolSpec(name="a", max_nodes=3))},
            "node_pools[1].name",
            "a",
            "must be unique",
        ),
        ({"ami_alias": "al2023@latest"}, "ami_alias", "al2023@latest", "not 'latest'"),
        ({"ami_alias": "bottlerocket@1.40.0"}, "ami_alias", "bottlerocket@1.40.0", "AL2023"),
        ({"interruption_queue_name": "a.b"}, "interruption_queue_name", "a.b", "1-80 letters"),
        ({"controller_replicas": 0}, "controller_replicas", 0, "positive"),
        ({"cluster_name": ""}, "cluster_name", "", "Name the EKS cluster"),
        (
            {"tags": {"kubernetes.io/cluster/mlops-dev": "owned"}},
            "tags",
            "kubernetes.io/cluster/mlops-dev",
            "Karpenter sets this tag itself",
        ),
        ({"tags": {"team": ""}}, "tags", {"team": ""}, "non-empty key and value"),
    ],
)
def test_bad_args_fail_before_anything_registers(
    overrides: dict[str, Any], field: str, value: Any, fix: str
) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        _args(**overrides)
    assert caught.value.field == field
    assert caught.value.value == value
    assert fix in caught.value.fix


# --- policy documents ---------------------------------------------------------------------


def _controller_document(queue_arn: str, node_role_arn: str) -> dict[str, Any]:
    return karpenter_controller_policy(
        partition="aws",
        region=REGION,
        account_id=ACCOUNT_ID,
        cluster_name=CLUSTER,
        interruption_queue_arn=queue_arn,
        node_role_arn=node_role_arn,
    )


def _statements(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list[str]]]:
    for statement in document["Statement"]:
        actions = statement["Action"]
        yield statement, [actions] if isinstance(actions, str) else actions


@pytest.mark.unit
def test_controller_policy_scopes_every_write() -> None:
    document = _controller_document(FAKE_QUEUE_ARN, FAKE_NODE_ROLE_ARN)
    owned = f"aws:ResourceTag/kubernetes.io/cluster/{CLUSTER}"
    requested = f"aws:RequestTag/kubernetes.io/cluster/{CLUSTER}"
    for statement, actions in _statements(document):
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in actions), actions
        if statement["Resource"] == "*":
            # Only reads that IAM cannot scope by resource, and regional reads.
            unscoped = {"pricing:GetProducts", "iam:ListInstanceProfiles"}
            if not set(actions) <= unscoped:
                assert all(a.startswith("ec2:Describe") for a in actions)
                assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGION}}
        if {"ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"} & set(actions):
            assert statement["Condition"]["StringEquals"] == {owned: "owned"}
        if (
            "ec2:CreateLaunchTemplate" in actions
            or statement["Sid"] == "AllowScopedResourceCreationTagging"
        ):
            assert statement["Condition"]["StringEquals"][requested] == "owned"
        if any(a.startswith("iam:") and "InstanceProfile" in a for a in actions) and (
            actions not in (["iam:GetInstanceProfile"], ["iam:ListInstanceProfiles"])
        ):
            condition = statement["Condition"]["StringEquals"]
            assert condition.get(owned) == "owned" or condition.get(requested) == "owned"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    [pass_role] = [s for s, a in _statements(document) if a == ["iam:PassRole"]]
    assert pass_role["Resource"] == FAKE_NODE_ROLE_ARN
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}
    }
    [queue] = [s for s, a in _statements(document) if any(x.startswith("sqs:") for x in a)]
    assert queue["Resource"] == FAKE_QUEUE_ARN
    assert sorted(queue["Action"]) == ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]


@pytest.mark.unit
def test_controller_policy_key_statements_only_with_a_key() -> None:
    with_key = karpenter_controller_policy(
        partition="aws",
        region=REGION,
        account_id=ACCOUNT_ID,
        cluster_name=CLUSTER,
        interruption_queue_arn=FAKE_QUEUE_ARN,
        node_role_arn=FAKE_NODE_ROLE_ARN,
        kms_key_arn=KMS_KEY,
    )
    key_statements = [
        s
        for s in with_key["Statement"]
        if s["Sid"].startswith("AllowNodeVolume") or s["Sid"] == "AllowScopedNodeVolumeKeyUse"
    ]
    assert [s["Resource"] for s in key_statements] == [KMS_KEY, KMS_KEY]
    for statement in key_statements:
        assert statement["Condition"]["StringEquals"] == {
            "kms:ViaService": f"ec2.{REGION}.amazonaws.com"
        }
    grant = key_statements[1]
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


@pytest.mark.unit
def test_queue_and_trust_documents() -> None:
    queue = interruption_queue_policy(FAKE_QUEUE_ARN)
    allow, deny = queue["Statement"]
    assert allow["Principal"] == {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}
    assert (allow["Action"], allow["Resource"]) == ("sqs:SendMessage", FAKE_QUEUE_ARN)
    assert deny == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": FAKE_QUEUE_ARN,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert node_trust_policy()["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert node_trust_policy(dns_suffix="amazonaws.com.cn")["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com.cn"
    }
    assert set(INTERRUPTION_EVENT_PATTERNS) == set(_EVENTS)
    assert default_interruption_queue_name("x" * 100) == "x" * 70 + "-karpenter"


# --- moto: the controller's permissions with IAM enforcement ------------------------------


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return is_denied(error)
    return False


@pytest.fixture
def controller_account() -> Iterator[dict[str, str]]:
    """A moto account with the interruption queue, a neighbour queue and the node role."""
    with aws_account():
        sqs = boto3.client("sqs", region_name=REGION)
        own = sqs.create_queue(QueueName=default_interruption_queue_name(CLUSTER))["QueueUrl"]
        other = sqs.create_queue(QueueName="billing-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=own, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for url in (own, other):
            sqs.send_message(
                QueueUrl=url,
                MessageBody='{"detail-type": "EC2 Spot Instance Interruption Warning"}',
            )
        iam = boto3.client("iam", region_name=REGION)
        node_role = iam.create_role(
            RoleName="mlops-dev-karpenter-node",
            AssumeRolePolicyDocument=json.dumps(node_trust_policy()),
        )["Role"]["Arn"]
        iam.create_role(RoleName="admin", AssumeRolePolicyDocument=json.dumps(node_trust_policy()))
        yield {"own": own, "other": other, "queue_arn": queue_arn, "node_role": node_role}


@pytest.mark.moto
def test_controller_reads_and_deletes_only_its_interruption_messages(
    controller_account: dict[str, str],
) -> None:
    document = _controller_document(
        controller_account["queue_arn"], controller_account["node_role"]
    )
    own, other = controller_account["own"], controller_account["other"]
    with assumed_role("karpenter-controller", [document]) as session:
        sqs = session.client("sqs")
        [message] = sqs.receive_message(QueueUrl=own)["Messages"]
        sqs.delete_message(QueueUrl=own, ReceiptHandle=message["ReceiptHandle"])
        # Neighbours: another queue, writing its own queue, deleting or purging it.
        assert _denied(sqs.receive_message, QueueUrl=other)
        assert _denied(sqs.send_message, QueueUrl=own, MessageBody="forged")
        assert _denied(sqs.delete_queue, QueueUrl=own)
        assert _denied(sqs.purge_queue, QueueUrl=own)
        assert _denied(sqs.set_queue_attributes, QueueUrl=own, Attributes={"Policy": "{}"})


@pytest.mark.moto
def test_controller_iam_is_limited_to_instance_profiles(controller_account: dict[str, str]) -> None:
    document = _controller_document(
        controller_account["queue_arn"], controller_account["node_role"]
    )
    with assumed_role("karpenter-controller", [document]) as session:
        iam = session.client("iam")
        iam.list_instance_profiles()
        # Roles are matched by ARN on moto: nothing on roles is granted, not even reading.
        assert _denied(iam.get_role, RoleName="mlops-dev-karpenter-node")
        assert _denied(iam.delete_role, RoleName="mlops-dev-karpenter-node")
        assert _denied(
            iam.put_role_policy,
            RoleName="karpenter-controller",
            PolicyName="escalate",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        assert _denied(iam.create_role, RoleName="x", AssumeRolePolicyDocument="{}")
    # iam:PassRole has no API call of its own; moto's policy engine decides it by resource
    # (its condition on iam:PassedToService is asserted on the document above).
    engine = IAMPolicy(json.dumps(document))
    assert engine.is_action_permitted("iam:PassRole", controller_account["node_role"]) == (
        PermissionResult.PERMITTED
    )
    admin = f"arn:aws:iam::{ACCOUNT_ID}:role/admin"
    assert engine.is_action_permitted("iam:PassRole", admin) != PermissionResult.PERMITTED


@pytest.mark.moto
def test_controller_ec2_actions(controller_account: dict[str, str]) -> None:
    """moto matches EC2 at action level only (every request's resource is '*').

    So the regional reads succeed (moto ignores the aws:RequestedRegion condition), and actions
    the policy never grants are denied. RunInstances and TerminateInstances are granted only on
    tagged resource ARNs, which moto cannot match, so their scoping is asserted on the document.
    """
    document = _controller_document(
        controller_account["queue_arn"], controller_account["node_role"]
    )
    with assumed_role("karpenter-controller", [document]) as session:
        ec2 = session.client("ec2")
        assert ec2.describe_instance_types()["InstanceTypes"]
        ec2.describe_subnets()
        assert _denied(ec2.create_vpc, CidrBlock="10.0.0.0/16")
        assert _denied(ec2.create_security_group, GroupName="open", Description="x")
        assert _denied(
            ec2.modify_instance_attribute,
            InstanceId="i-0123456789abcdef0",
            Attribute="userData",
            Value="x",
        )
