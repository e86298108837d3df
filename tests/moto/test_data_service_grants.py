"""Registry and key-value grants are least privilege: proven on moto with IAM enforcement on.

ECR and DynamoDB are JSON-protocol services, and moto authorises them against the resource
``*`` only, so a statement naming a repository or table ARN would never match there. These
tests therefore load each generated document with its resources widened to ``*``
(``_action_level``) and prove which *actions* a grant allows and denies. Which *resource* a
grant names is proven on the documents themselves in tests/components (test_registry.py,
test_key_value.py), and the RDS ``rds-db:connect`` ARN likewise in test_database.py: IAM
database tokens are signed client-side, so moto has nothing to enforce for them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mlops_blueprints.components.database import rds_connect_statements
from mlops_blueprints.components.identity import IrsaIdentity, IrsaIdentityArgs
from mlops_blueprints.components.key_value import (
    DynamoDbTable,
    DynamoDbTableArgs,
    dynamodb_grant_statements,
    feast_table_prefix,
)
from mlops_blueprints.components.registry import ecr_grant_statements, ecr_lifecycle_policy

from mlops_blueprints.render import run_program
from tests.moto._harness import REGION, assumed_role, aws_account, is_denied

pytestmark = pytest.mark.moto

REPOSITORY = "mlops/serving"
OTHER_REPOSITORY = "mlops/other"
REPOSITORY_ARN = f"arn:aws:ecr:{REGION}:123456789012:repository/{REPOSITORY}"
TABLE = "acme-online-features"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {},
        "layers": [],
    }
)


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _action_level(document: dict[str, Any]) -> dict[str, Any]:
    """The same statements on the resource ``*``, the only one moto matches for ECR/DynamoDB.

    Conditions are kept; moto ignores the ones these documents use (``IfExists`` and
    ``StringLike`` operators), which the unit tests assert instead.
    """
    return {**document, "Statement": [{**s, "Resource": "*"} for s in document["Statement"]]}


def _denied(call: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return is_denied(error)
    return False


# --- ECR ------------------------------------------------------------------------------------


def _seed_registry() -> None:
    ecr = boto3.client("ecr", region_name=REGION)
    for name in (REPOSITORY, OTHER_REPOSITORY):
        ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
        ecr.put_image(repositoryName=name, imageManifest=MANIFEST, imageTag="v1")


def _ecr_document(mode: str) -> dict[str, Any]:
    return _action_level(
        _document(ecr_grant_statements(mode=mode, repository_arn=REPOSITORY_ARN))  # type: ignore[arg-type]
    )


def test_ecr_pull_grant_pulls_and_nothing_else() -> None:
    with aws_account():
        _seed_registry()
        with assumed_role("puller", [_ecr_document("pull")]) as session:
            ecr = session.client("ecr")
            assert ecr.get_authorization_token()["authorizationData"]
            images = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": "v1"}])
            assert [i["imageId"]["imageTag"] for i in images["images"]] == ["v1"]
            ecr.batch_check_layer_availability(
                repositoryName=REPOSITORY, layerDigests=["sha256:" + "0" * 64]
            )
            # Neighbours: pushing, deleting images or the repository, reading metadata,
            # changing the repository's policy.
            assert _denied(ecr.initiate_layer_upload, repositoryName=REPOSITORY)
            assert _denied(
                ecr.put_image, repositoryName=REPOSITORY, imageManifest=MANIFEST, imageTag="v2"
            )
            assert _denied(
                ecr.batch_delete_image, repositoryName=REPOSITORY, imageIds=[{"imageTag": "v1"}]
            )
            assert _denied(ecr.delete_repository, repositoryName=REPOSITORY)
            assert _denied(ecr.describe_images, repositoryName=REPOSITORY)
            assert _denied(
                ecr.set_repository_policy,
                repositoryName=REPOSITORY,
                policyText=json.dumps(_document([])),
            )


def test_ecr_push_grant_pushes_a_layer_and_an_image_but_never_deletes() -> None:
    layer = b"layer-bytes"
    with aws_account():
        _seed_registry()
        with assumed_role("pusher", [_ecr_document("push")]) as session:
            ecr = session.client("ecr")
            upload = ecr.initiate_layer_upload(repositoryName=REPOSITORY)["uploadId"]
            ecr.upload_layer_part(
                repositoryName=REPOSITORY,
                uploadId=upload,
                partFirstByte=0,
                partLastByte=len(layer) - 1,
                layerPartBlob=layer,
            )
            digest = "sha256:" + hashlib.sha256(layer).hexdigest()
            completed = ecr.complete_layer_upload(
                repositoryName=REPOSITORY, uploadId=upload, layerDigests=[digest]
            )
            assert completed["layerDigest"] == digest
            available = ecr.batch_check_layer_availability(
                repositoryName=REPOSITORY, layerDigests=[digest]
            )
            assert [found["layerAvailability"] for found in available["layers"]] == ["AVAILABLE"]
            ecr.put_image(repositoryName=REPOSITORY, imageManifest=MANIFEST, imageTag="v2")
            pushed = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": "v2"}])
            assert len(pushed["images"]) == 1
            # Neighbours: deleting images or the repository, loosening tag immutability,
            # replacing the lifecycle policy.
            assert _denied(
                ecr.batch_delete_image, repositoryName=REPOSITORY, imageIds=[{"imageTag": "v1"}]
            )
            assert _denied(ecr.delete_repository, repositoryName=REPOSITORY, force=True)
            assert _denied(
                ecr.put_image_tag_mutability,
                repositoryName=REPOSITORY,
                imageTagMutability="MUTABLE",
            )
            assert _denied(
                ecr.put_lifecycle_policy,
                repositoryName=REPOSITORY,
                lifecyclePolicyText=json.dumps(
                    ecr_lifecycle_policy(untagged_expiry_days=1, tagged_images_to_keep=1)
                ),
            )


# --- DynamoDB -------------------------------------------------------------------------------


def _seed_table() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for name in (TABLE, "acme-other"):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "entity_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "entity_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName=name, Item={"entity_id": {"S": "driver-1"}, "rate": {"N": "4"}})


def _dynamodb_document(mode: str) -> dict[str, Any]:
    return _action_level(
        _document(dynamodb_grant_statements(mode=mode, table_arn=TABLE_ARN, kms_key_arn=None))  # type: ignore[arg-type]
    )


KEY = {"entity_id": {"S": "driver-1"}}


def test_dynamodb_read_grant_reads_items_and_nothing_else() -> None:
    with aws_account():
        _seed_table()
        with assumed_role("feature-server", [_dynamodb_document("read")]) as session:
            dynamodb = session.client("dynamodb")
            assert dynamodb.get_item(TableName=TABLE, Key=KEY)["Item"]["rate"] == {"N": "4"}
            batch = dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": [KEY]}})
            assert len(batch["Responses"][TABLE]) == 1
            query = dynamodb.query(
                TableName=TABLE,
                KeyConditionExpression="entity_id = :id",
                ExpressionAttributeValues={":id": {"S": "driver-1"}},
            )
            assert query["Count"] == 1
            assert dynamodb.describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE
            # Neighbours: writing, deleting an item, a whole-table scan, dropping or
            # reconfiguring the table.
            item = {"entity_id": {"S": "driver-2"}}
            assert _denied(dynamodb.put_item, TableName=TABLE, Item=item)
            assert _denied(dynamodb.delete_item, TableName=TABLE, Key=KEY)
            assert _denied(dynamodb.scan, TableName=TABLE)
            assert _denied(dynamodb.delete_table, TableName=TABLE)
            assert _denied(
                dynamodb.update_table,
                TableName=TABLE,
                BillingMode="PROVISIONED",
                ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            )


def test_dynamodb_write_grant_writes_items_and_never_reads_or_drops() -> None:
    with aws_account():
        _seed_table()
        with assumed_role("materializer", [_dynamodb_document("write")]) as session:
            dynamodb = session.client("dynamodb")
            dynamodb.put_item(
                TableName=TABLE, Item={"entity_id": {"S": "driver-2"}, "rate": {"N": "5"}}
            )
            dynamodb.update_item(
                TableName=TABLE,
                Key=KEY,
                UpdateExpression="SET rate = :r",
                ExpressionAttributeValues={":r": {"N": "6"}},
            )
            dynamodb.batch_write_item(
                RequestItems={TABLE: [{"PutRequest": {"Item": {"entity_id": {"S": "driver-3"}}}}]}
            )
            dynamodb.delete_item(TableName=TABLE, Key={"entity_id": {"S": "driver-3"}})
            # Neighbours: reading items back, scanning, dropping the table.
            assert _denied(dynamodb.get_item, TableName=TABLE, Key=KEY)
            assert _denied(
                dynamodb.query,
                TableName=TABLE,
                KeyConditionExpression="entity_id = :id",
                ExpressionAttributeValues={":id": {"S": "driver-1"}},
            )
            assert _denied(dynamodb.scan, TableName=TABLE)
            assert _denied(dynamodb.delete_table, TableName=TABLE)
        # The writes landed (checked as the administrator).
        admin = boto3.client("dynamodb", region_name=REGION)
        assert admin.get_item(TableName=TABLE, Key=KEY)["Item"]["rate"] == {"N": "6"}


def test_rendered_dynamodb_grants_hold_on_moto() -> None:
    """The documents the DynamoDbTable component renders, not hand-built ones."""
    captured: dict[str, dict[str, Any]] = {}

    def program() -> None:
        identity = IrsaIdentity(
            "online-identity",
            IrsaIdentityArgs(
                namespace="mlops",
                service_account_name="feature-server",
                oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/example",
                oidc_issuer_url="https://example",
            ),
        )
        table = DynamoDbTable("online", DynamoDbTableArgs(table_name=TABLE))
        table.grant_read(identity)

    capture = run_program(program, project="mlops-platform", stack="test", config={})
    for registration in capture.registrations:
        if registration.type == "aws:iam/rolePolicy:RolePolicy":
            captured[registration.name] = json.loads(registration.inputs["policy"])
    assert list(captured) == ["online-read-feature-server"]
    with aws_account():
        _seed_table()
        documents = [_action_level(d) for d in captured.values()]
        with assumed_role("feature-server", documents) as session:
            dynamodb = session.client("dynamodb")
            assert dynamodb.get_item(TableName=TABLE, Key=KEY)["Item"]
            assert _denied(dynamodb.put_item, TableName=TABLE, Item=KEY)
            assert _denied(dynamodb.delete_table, TableName=TABLE)


def test_every_generated_document_is_accepted_by_iam_as_written() -> None:
    """Unwidened documents, with their real ARNs and conditions, pass IAM's policy checks."""
    documents = [
        _document(ecr_grant_statements(mode="pull", repository_arn=REPOSITORY_ARN)),
        _document(ecr_grant_statements(mode="push", repository_arn=REPOSITORY_ARN)),
        _document(
            dynamodb_grant_statements(
                mode="read",
                table_arn=TABLE_ARN,
                kms_key_arn=f"arn:aws:kms:{REGION}:123456789012:key/abcd",
                enable_scan=True,
            )
        ),
        _document(dynamodb_grant_statements(mode="write", table_arn=TABLE_ARN, kms_key_arn=None)),
        _document(
            rds_connect_statements(
                instance_arn=f"arn:aws:rds:{REGION}:123456789012:db:acme-tracking",
                resource_id="db-ABCDEFGHIJKLMNOPQRSTUVWXY0",
                db_user="mlflow",
            )
        ),
    ]
    with aws_account():
        with assumed_role("all-grants", documents):
            pass
        iam = boto3.client("iam", region_name=REGION)
        names = iam.list_role_policies(RoleName="all-grants")["PolicyNames"]
        assert len(names) == len(documents)


# --- Feast's per-feature-view tables ---------------------------------------------------------

FEAST_TABLE = f"{feast_table_prefix(TABLE)}rides.driver_stats"
FEAST_TABLE_SPEC: dict[str, Any] = {
    # What `feast apply` sends (feast/infra/online_stores/dynamodb.py, update()).
    "KeySchema": [{"AttributeName": "entity_id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "entity_id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def test_dynamodb_write_grant_does_what_feast_apply_and_materialize_do() -> None:
    with aws_account():
        _seed_table()
        with assumed_role("materializer", [_dynamodb_document("write")]) as session:
            dynamodb = session.client("dynamodb")
            # apply: look for the table, create it, wait for it, read its tags.
            with pytest.raises(ClientError) as missing:
                dynamodb.describe_table(TableName=FEAST_TABLE)
            assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
            created = dynamodb.create_table(TableName=FEAST_TABLE, **FEAST_TABLE_SPEC)
            arn = created["TableDescription"]["TableArn"]
            dynamodb.get_waiter("table_exists").wait(TableName=FEAST_TABLE)
            assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []
            # materialize: batched puts through the resource's batch writer.
            table = session.resource("dynamodb").Table(FEAST_TABLE)
            with table.batch_writer(overwrite_by_pkeys=["entity_id"]) as batch:
                batch.put_item(Item={"entity_id": "driver-1", "values": {"rate": "4"}})
            # The item landed (read back as the administrator below).
            # Neighbours: dropping or reconfiguring a feature table, tagging, reading items.
            assert _denied(dynamodb.delete_table, TableName=FEAST_TABLE)
            assert _denied(
                dynamodb.update_table,
                TableName=FEAST_TABLE,
                BillingMode="PROVISIONED",
                ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            )
            assert _denied(
                dynamodb.tag_resource, ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}]
            )
            assert _denied(dynamodb.get_item, TableName=FEAST_TABLE, Key=KEY)
        admin = boto3.client("dynamodb", region_name=REGION)
        assert admin.get_item(TableName=FEAST_TABLE, Key=KEY)["Item"]["values"] == {
            "M": {"rate": {"S": "4"}}
        }


def test_dynamodb_read_grant_reads_feast_tables_but_never_creates_or_drops() -> None:
    with aws_account():
        admin = boto3.client("dynamodb", region_name=REGION)
        admin.create_table(TableName=FEAST_TABLE, **FEAST_TABLE_SPEC)
        admin.put_item(TableName=FEAST_TABLE, Item={**KEY, "values": {"M": {"rate": {"S": "4"}}}})
        with assumed_role("feature-server", [_dynamodb_document("read")]) as session:
            dynamodb = session.client("dynamodb")
            # The server's online reads are BatchGetItem on the feature table.
            batch = dynamodb.batch_get_item(RequestItems={FEAST_TABLE: {"Keys": [KEY]}})
            assert batch["Responses"][FEAST_TABLE][0]["values"] == {"M": {"rate": {"S": "4"}}}
            assert _denied(dynamodb.create_table, TableName=f"{FEAST_TABLE}-2", **FEAST_TABLE_SPEC)
            assert _denied(dynamodb.delete_table, TableName=FEAST_TABLE)


def test_create_grant_names_only_the_feast_tables() -> None:
    """moto cannot match DynamoDB resources, so the resource scope is asserted as written."""
    statements = dynamodb_grant_statements(mode="write", table_arn=TABLE_ARN, kms_key_arn=None)
    create = [s for s in statements if "dynamodb:CreateTable" in s["Action"]]
    assert create == [
        {
            "Sid": "FeatureTablesCreate",
            "Effect": "Allow",
            "Action": [
                "dynamodb:CreateTable",
                "dynamodb:DescribeTable",
                "dynamodb:ListTagsOfResource",
            ],
            "Resource": [f"{TABLE_ARN}.*"],
        }
    ]
