"""Level 1 on both targets: exact children and the security-relevant inputs."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import RenderFn
from tests.unit._inventory import by_name, children

pytestmark = pytest.mark.unit


def test_kind_platform_children(render_level: RenderFn) -> None:
    result = render_level(1, "kind")
    assert children(result, "platform") == {
        "kubernetes": "pulumi:providers:kubernetes",
        "platform-namespace": "mlops:kubernetes:WorkloadNamespace",
        "object-store-namespace": "mlops:kubernetes:WorkloadNamespace",
        "object-store": "mlops:storage:SeaweedfsServer",
        "data-lake": "mlops:storage:DataLake",
        "experiment-tracking-identity": "mlops:identity:StaticCredentialsIdentity",
        "experiment-tracking-database": "mlops:database:InClusterPostgres",
        "model-registry": "mlops:mlregistry:ModelRegistry",
        "data-versioning-identity": "mlops:identity:StaticCredentialsIdentity",
    }
    assert children(result, "data-lake") == {
        "data-lake-raw": "mlops:storage:SeaweedfsBucket",
        "data-lake-curated": "mlops:storage:SeaweedfsBucket",
        "data-lake-artifacts": "mlops:storage:SeaweedfsBucket",
    }
    assert children(result, "object-store") == {
        "object-store-admin-access-key": "random:index/randomString:RandomString",
        "object-store-admin-secret-key": "random:index/randomPassword:RandomPassword",
        "object-store-s3-config": "kubernetes:core/v1:Secret",
        "object-store-service": "kubernetes:core/v1:Service",
        "object-store-statefulset": "kubernetes:apps/v1:StatefulSet",
        "object-store-network-policy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "object-store-admin-job-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "object-store-mlflow-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "object-store-dvc-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    }
    assert children(result, "experiment-tracking-identity") == {
        "experiment-tracking-identity-access-key": "random:index/randomString:RandomString",
        "experiment-tracking-identity-secret-key": "random:index/randomPassword:RandomPassword",
        "experiment-tracking-identity-service-account": "kubernetes:core/v1:ServiceAccount",
        "experiment-tracking-identity-credentials": "kubernetes:core/v1:Secret",
    }


def test_kind_namespaces_are_restricted_and_default_deny(render_level: RenderFn) -> None:
    resources = by_name(render_level(1, "kind"))
    namespace = resources["platform-namespace-namespace"].inputs
    assert namespace["metadata"]["name"] == "mlops"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deny = resources["platform-namespace-default-deny"].inputs
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert deny["metadata"]["namespace"] == "mlops"
    dns = resources["platform-namespace-allow-dns"].inputs["spec"]
    assert dns["policyTypes"] == ["Egress"]
    assert {p["port"] for p in dns["egress"][0]["ports"]} == {53}


def test_kind_object_store_is_authenticated_and_hardened(render_level: RenderFn) -> None:
    resources = by_name(render_level(1, "kind"))
    statefulset = resources["object-store-statefulset"].inputs
    pod = statefulset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "chrislusf/seaweedfs:3.97"
    assert "-s3.config=/etc/seaweedfs/s3.json" in container["args"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"]["memory"] == "1024Mi"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    claim = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "20Gi"
    # The credentials never appear in the render.
    assert resources["object-store-s3-config"].inputs["stringData"] == {"s3.json": "[secret]"}


def test_kind_bucket_jobs_create_each_zone(render_level: RenderFn) -> None:
    resources = by_name(render_level(1, "kind"))
    for zone in ("raw", "curated", "artifacts"):
        job = resources[f"data-lake-{zone}-create-bucket"]
        assert job.type == "kubernetes:batch/v1:Job"
        command = job.inputs["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[:2] == ["/bin/sh", "-c"]
        assert f"s3.bucket.create -name mlops-dev-lake-{zone}" in command[2]
        assert resources["object-store-statefulset"].urn in job.dependencies


def test_aws_platform_children(render_level: RenderFn) -> None:
    result = render_level(1, "aws")
    assert children(result, "platform") == {
        "platform-key": "mlops:keys:KmsKey",
        "network": "mlops:network:Vpc",
        "cluster": "mlops:cluster:EksCluster",
        "kubernetes": "pulumi:providers:kubernetes",
        "node-pools": "mlops:nodepools:KarpenterNodePools",
        "platform-namespace": "mlops:kubernetes:WorkloadNamespace",
        "data-lake": "mlops:storage:DataLake",
        "experiment-tracking-identity": "mlops:identity:IrsaIdentity",
        "experiment-tracking-database": "mlops:database:RdsPostgres",
        "model-registry": "mlops:mlregistry:ModelRegistry",
        "data-versioning-identity": "mlops:identity:IrsaIdentity",
    }
    assert children(result, "data-lake-artifacts") == {
        "data-lake-artifacts-bucket": "aws:s3/bucket:Bucket",
        "data-lake-artifacts-ownership": "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "data-lake-artifacts-public-access-block": "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "data-lake-artifacts-encryption": "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "data-lake-artifacts-versioning": "aws:s3/bucketVersioning:BucketVersioning",
        "data-lake-artifacts-lifecycle": "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "data-lake-artifacts-policy": "aws:s3/bucketPolicy:BucketPolicy",
        "data-lake-artifacts-read-mlflow-mlflow": "aws:iam/rolePolicy:RolePolicy",
        "data-lake-artifacts-write-mlflow-mlflow": "aws:iam/rolePolicy:RolePolicy",
    }


def test_aws_buckets_are_private_encrypted_versioned_and_retained(render_level: RenderFn) -> None:
    resources = by_name(render_level(1, "aws"))
    for zone in ("raw", "curated", "artifacts"):
        prefix = f"data-lake-{zone}"
        bucket = resources[f"{prefix}-bucket"]
        assert bucket.inputs["bucket"] == f"acme-mlops-dev-lake-{zone}"
        assert bucket.retain_on_delete is True
        assert resources[f"{prefix}-public-access-block"].inputs == {
            "bucket": bucket.inputs["bucket"],
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        }
        assert resources[f"{prefix}-ownership"].inputs["rule"] == {
            "objectOwnership": "BucketOwnerEnforced"
        }
        rule = resources[f"{prefix}-encryption"].inputs["rules"][0]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
        assert rule["bucketKeyEnabled"] is True
        assert resources[f"{prefix}-versioning"].inputs["versioningConfiguration"] == {
            "status": "Enabled"
        }
        lifecycle = resources[f"{prefix}-lifecycle"].inputs["rules"][0]
        assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
        assert lifecycle["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
        policy = json.loads(resources[f"{prefix}-policy"].inputs["policy"])
        deny_plain_http = policy["Statement"][0]
        assert deny_plain_http["Effect"] == "Deny"
        assert deny_plain_http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        # The policy is applied only after public access is blocked.
        assert (
            resources[f"{prefix}-public-access-block"].urn
            in resources[f"{prefix}-policy"].dependencies
        )


def test_aws_identity_trusts_one_service_account(render_level: RenderFn) -> None:
    resources = by_name(render_level(1, "aws"))
    assert resources["cluster-cluster"].type == "aws:eks/cluster:Cluster"
    # In-cluster resources wait for the whole cluster component (nodes, access, add-ons).
    dependencies = resources["kubernetes"].dependencies
    assert resources["cluster-cluster"].urn in dependencies
    assert resources["cluster-system"].urn in dependencies
    role = resources["experiment-tracking-identity-role"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    # The issuer of the cluster the target creates (the render's fake EKS outputs).
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/MOCK"
    assert condition == {
        f"{issuer}:sub": "system:serviceaccount:mlops:mlflow",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    service_account = resources["experiment-tracking-identity-service-account"].inputs
    assert service_account["automountServiceAccountToken"] is False
    assert service_account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/experiment-tracking-identity-role"
    }


def test_aws_grants_are_prefix_scoped(render_level: RenderFn) -> None:
    resources = by_name(render_level(1, "aws"))
    read = json.loads(resources["data-lake-artifacts-read-mlflow-mlflow"].inputs["policy"])
    write = json.loads(resources["data-lake-artifacts-write-mlflow-mlflow"].inputs["policy"])
    arn = "arn:aws:s3:::acme-mlops-dev-lake-artifacts"
    assert read["Statement"][0]["Resource"] == [f"{arn}/mlflow/*"]
    assert "s3:PutObject" not in read["Statement"][0]["Action"]
    assert read["Statement"][1]["Condition"] == {"StringLike": {"s3:prefix": ["mlflow/*"]}}
    assert write["Statement"][0]["Action"] == [
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:AbortMultipartUpload",
    ]
    assert all("s3:DeleteObject" not in s["Action"] for s in read["Statement"] + write["Statement"])


def test_aws_level1_runs_one_general_cpu_pool_on_karpenter(render_level: RenderFn) -> None:
    result = render_level(1, "aws")
    resources = by_name(result)
    pools = [
        r for r in result.capture.registrations if r.type == "kubernetes:karpenter.sh/v1:NodePool"
    ]
    assert [p.inputs["metadata"]["name"] for p in pools] == ["general"]
    # No accelerator pool at Level 1, so no taint on the general pool.
    assert "taints" not in pools[0].inputs["spec"]["template"]["spec"]
    release = resources["node-pools-karpenter"]
    assert release.type == "kubernetes:helm.sh/v3:Release"
    assert release.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert release.inputs["version"] == "1.14.1"
    assert release.urn in pools[0].dependencies
    assert resources["node-pools"].type == "mlops:nodepools:KarpenterNodePools"


def test_kind_level1_exports_the_matching_kind_cluster_config(render_level: RenderFn) -> None:
    config = yaml.safe_load(render_level(1, "kind").capture.stack_outputs["kind_cluster_config"])
    assert config["kind"] == "Cluster"
    assert config["name"] == "mlops"
    roles = [node["role"] for node in config["nodes"]]
    assert roles == ["control-plane", "worker"]
    assert config["nodes"][1]["labels"]["mlops-blueprints.io/node-pool"] == "general"
