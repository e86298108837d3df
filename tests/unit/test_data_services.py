"""The data services the levels ask their target for, and the Level 4 posture on them."""

from __future__ import annotations

import json

import pytest
from mlops_blueprints.blueprints import LEVEL_FEATURES
from mlops_blueprints.blueprints._platform import platform_requests, target_posture
from mlops_blueprints.components.object_store import S3BucketArgs

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets import (
    AwsSettings,
    AwsTarget,
    ContainerRegistryArgs,
    KeyValueStoreArgs,
    SqlDatabaseArgs,
    TargetPosture,
)
from tests.conftest import RenderFn
from tests.unit._inventory import by_name, children

pytestmark = pytest.mark.unit

IDENTITY_LABEL = "mlops-blueprints.io/identity"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/platform-key-key"


def _egress(resources: dict, name: str) -> dict:  # type: ignore[type-arg]
    policy = resources[name]
    assert policy.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    return policy.inputs  # type: ignore[no-any-return]


# --- requests and posture are pure data --------------------------------------------------


def test_levels_request_the_tracking_database_at_1_and_the_registry_at_2() -> None:
    level1 = platform_requests(LEVEL_FEATURES[1])
    assert level1.tracking_database == SqlDatabaseArgs(
        database_name="mlflow",
        purpose="experiment tracking and model registry",
        client_namespaces=("mlops",),
    )
    assert level1.model_images is None
    level2 = platform_requests(LEVEL_FEATURES[2])
    assert level2.model_images == ContainerRegistryArgs(
        repository_name="models", purpose="model serving images", client_namespaces=("mlops",)
    )


def test_only_level4_hardens_the_posture() -> None:
    for level in (1, 2, 3):
        assert target_posture(LEVEL_FEATURES[level]) == TargetPosture()
    assert target_posture(LEVEL_FEATURES[4]) == TargetPosture(
        customer_managed_keys=True, access_logging=True, high_availability=True
    )


@pytest.mark.parametrize(
    ("make", "field", "value", "fix"),
    [
        (
            lambda: SqlDatabaseArgs(database_name="ML-flow", purpose="x", client_namespaces=("a",)),
            "database_name",
            "ML-flow",
            "lowercase letters",
        ),
        (
            lambda: SqlDatabaseArgs(database_name="mlflow", purpose="x", client_namespaces=()),
            "client_namespaces",
            (),
            "at least one namespace",
        ),
        (
            lambda: KeyValueStoreArgs(store_name="Online_", purpose="x", client_namespaces=("a",)),
            "store_name",
            "Online_",
            "lowercase letters",
        ),
        (
            lambda: ContainerRegistryArgs(
                repository_name="Models//x", purpose="x", client_namespaces=("a",)
            ),
            "repository_name",
            "Models//x",
            "lowercase letters and digits",
        ),
    ],
)
def test_bad_requests_fail_with_the_field_value_and_fix(
    make: object, field: str, value: object, fix: str
) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        make()  # type: ignore[operator]
    assert (caught.value.field, caught.value.value) == (field, value)
    assert fix in caught.value.fix


def test_aws_physical_names_are_checked_before_registration() -> None:
    long_name = "a" * 60
    with pytest.raises(BlueprintConfigError) as caught:
        AwsTarget.check_requests(
            long_name,
            sql_databases=[
                SqlDatabaseArgs(database_name="mlflow", purpose="x", client_namespaces=("a",))
            ],
        )
    assert caught.value.field == "database_name"
    assert caught.value.value == f"{long_name}-mlflow"
    AwsTarget.check_requests(
        "acme-dev",
        sql_databases=[
            SqlDatabaseArgs(database_name="ml_flow", purpose="x", client_namespaces=("a",))
        ],
        key_value_stores=[
            KeyValueStoreArgs(store_name="online", purpose="x", client_namespaces=("a",))
        ],
        container_registries=[
            ContainerRegistryArgs(repository_name="models", purpose="x", client_namespaces=("a",))
        ],
    )


def test_aws_needs_two_availability_zones() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        AwsTarget.plan(AwsSettings(az_count=1), cluster_name="acme-dev-eks")
    assert caught.value.field == "mlops-platform:aws.azCount"
    assert caught.value.value == 1
    assert "at least 2" in caught.value.fix


# --- kind: in-cluster services in the storage namespace -----------------------------------


def test_kind_tracking_database_is_in_cluster_and_reachable_only_by_mlflow(
    render_level: RenderFn,
) -> None:
    result = render_level(1, "kind")
    resources = by_name(result)
    statefulset = resources["experiment-tracking-database-statefulset"].inputs
    assert statefulset["metadata"]["namespace"] == "mlops-storage"
    assert statefulset["metadata"]["name"] == "mlflow-postgres"
    ingress = resources["experiment-tracking-database-network-policy"].inputs["spec"]["ingress"]
    assert ingress[0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops"}}}
    ]
    egress = _egress(resources, "experiment-tracking-database-mlflow-egress")
    assert egress["metadata"]["namespace"] == "mlops"
    assert egress["spec"]["podSelector"] == {"matchLabels": {IDENTITY_LABEL: "mlflow"}}
    assert egress["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    # The connection Secret lands beside the workload that uses it.
    secret = resources["experiment-tracking-database-mlflow-connection"].inputs
    assert secret["metadata"]["namespace"] == "mlops"
    # Each identity reaches the object store's S3 port and nothing else in the namespace.
    for identity in ("mlflow", "dvc"):
        spec = _egress(resources, f"object-store-{identity}-egress")["spec"]
        assert spec["podSelector"] == {"matchLabels": {IDENTITY_LABEL: identity}}
        assert spec["egress"] == [
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "mlops-storage"}
                        },
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "seaweedfs",
                                "app.kubernetes.io/instance": "object-store",
                            }
                        },
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 8333}],
            }
        ]


def test_kind_level2_registry_admits_the_platform_and_the_node_network(
    render_level: RenderFn,
) -> None:
    result = render_level(2, "kind")
    assert by_name(result)["model-images"].type == "mlops:registry:InClusterRegistry"
    policy = by_name(result)["model-images-network-policy"].inputs
    assert policy["metadata"]["namespace"] == "mlops-storage"
    assert policy["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops"}}},
        {"ipBlock": {"cidr": "172.18.0.0/16"}},
    ]
    assert (
        result.capture.stack_outputs["model_image_repository"]
        == "registry.mlops-storage.svc.cluster.local:5000/models"
    )


# --- aws: managed services, private and least-privilege -----------------------------------


def test_aws_tracking_database_is_private_protected_and_iam_authenticated(
    render_level: RenderFn,
) -> None:
    resources = by_name(render_level(1, "aws"))
    instance = resources["experiment-tracking-database-instance"]
    assert instance.inputs["identifier"] == "acme-mlops-dev-mlflow"
    assert instance.inputs["publiclyAccessible"] is False
    assert instance.inputs["storageEncrypted"] is True
    assert instance.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert instance.inputs["deletionProtection"] is True
    assert instance.inputs["backupRetentionPeriod"] >= 7
    assert instance.inputs["multiAz"] is False
    assert "kmsKeyId" not in instance.inputs
    assert instance.retain_on_delete is True
    # Only the cluster's nodes reach it, from the private subnets.
    rule = resources["experiment-tracking-database-ingress-sg-0"].inputs
    assert rule["referencedSecurityGroupId"] == "sg-acme-mlops-dev-eks-cluster"
    assert rule["fromPort"] == rule["toPort"] == 5432
    # The mlflow role may connect as its own database user only.
    policy = json.loads(resources["experiment-tracking-database-connect-mlflow"].inputs["policy"])
    assert policy["Statement"][0]["Action"] == ["rds-db:connect"]
    assert policy["Statement"][0]["Resource"][0].endswith("/mlflow")
    # Its pods may reach the VPC on 5432 only.
    egress = _egress(resources, "experiment-tracking-database-mlflow-egress")["spec"]
    assert egress["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]}
    ]


def test_aws_identities_reach_aws_apis_but_never_instance_metadata(
    render_level: RenderFn,
) -> None:
    result = render_level(1, "aws")
    assert children(result, "experiment-tracking-identity") == {
        "experiment-tracking-identity-role": "aws:iam/role:Role",
        "experiment-tracking-identity-service-account": "kubernetes:core/v1:ServiceAccount",
        "experiment-tracking-identity-aws-api-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    }
    spec = _egress(by_name(result), "experiment-tracking-identity-aws-api-egress")["spec"]
    assert spec == {
        "podSelector": {"matchLabels": {IDENTITY_LABEL: "mlflow"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}],
                "ports": [{"protocol": "TCP", "port": 443}],
            }
        ],
    }


def test_aws_level2_image_repository_is_immutable_and_scanned(render_level: RenderFn) -> None:
    result = render_level(2, "aws")
    repository = by_name(result)["model-images-repository"].inputs
    assert repository["name"] == "acme-mlops-dev/models"
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert result.capture.stack_outputs["model_image_repository"] == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-mlops-dev/models"
    )


# --- Level 4: the platform key everywhere, access logs, Multi-AZ -------------------------


def test_aws_level4_encrypts_with_the_platform_key_logs_access_and_runs_multi_az(
    render_level: RenderFn,
) -> None:
    resources = by_name(render_level(4, "aws"))
    for zone in ("raw", "curated", "artifacts"):
        rule = resources[f"data-lake-{zone}-encryption"].inputs["rules"][0]
        assert rule["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": KEY_ARN,
        }
        logging = resources[f"data-lake-{zone}-access-logging"].inputs
        assert logging["targetBucket"] == "acme-mlops-dev-access-logs"
        assert logging["targetPrefix"] == f"acme-mlops-dev-lake-{zone}/"
    # Grants on a CMK bucket include the key, scoped to S3 use.
    read = json.loads(resources["data-lake-artifacts-read-mlflow-mlflow"].inputs["policy"])
    assert any(KEY_ARN in json.dumps(s.get("Resource")) for s in read["Statement"])
    instance = resources["experiment-tracking-database-instance"].inputs
    assert instance["multiAz"] is True
    assert instance["kmsKeyId"] == KEY_ARN
    assert resources["model-images-repository"].inputs["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": KEY_ARN}
    ]


def test_aws_level4_access_log_bucket_takes_only_this_accounts_platform_logs(
    render_level: RenderFn,
) -> None:
    resources = by_name(render_level(4, "aws"))
    assert resources["access-logs-bucket"].retain_on_delete is True
    # S3 log delivery writes SSE-S3 objects only.
    rule = resources["access-logs-encryption"].inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert "access-logs-access-logging" not in resources  # no log loop
    statements = json.loads(resources["access-logs-policy"].inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == [
        "DenyInsecureTransport",
        "DenyOutdatedTls",
        "AllowServerAccessLogDelivery",
    ]
    assert statements[2] == {
        "Sid": "AllowServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::acme-mlops-dev-access-logs/*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": "arn:aws:s3:::acme-mlops-dev-*"},
        },
    }


def test_below_level4_buckets_use_aws_managed_keys_and_no_access_logs(
    render_level: RenderFn,
) -> None:
    resources = by_name(render_level(3, "aws"))
    assert "access-logs" not in resources
    assert "data-lake-raw-access-logging" not in resources
    rule = resources["data-lake-raw-encryption"].inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}


def test_an_access_log_target_bucket_refuses_a_kms_key() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        S3BucketArgs(
            bucket_name="acme-access-logs",
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/x",
            log_delivery_source_prefix="acme-",
        )
    assert caught.value.field == "kms_key_arn"
    assert "SSE-S3" in caught.value.fix
    with pytest.raises(BlueprintConfigError) as caught:
        S3BucketArgs(bucket_name="acme-access-logs", log_delivery_source_prefix="")
    assert caught.value.field == "log_delivery_source_prefix"
