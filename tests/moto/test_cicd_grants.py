"""A GitHub Actions role's grants are least privilege: proven on moto with IAM enforcement on.

The documents are the ones a render produces for a ``GithubActionsRole`` granted through the
existing intent methods (``EcrRepository.grant_push``, ``S3Bucket.grant_read/grant_write``
and ``ModelRegistry.grant_write``), loaded unchanged into moto.

moto matches resources for S3 natively. For ECR it authorises every call against the
resource ``*``, so a repository-scoped statement would never match; here moto is taught the
repository ARN of each ECR request (the repository name in the request body, as AWS
authorises it), so the repository scoping itself is enforced, not only the actions. ECR
denials are bare HTTP 403s (JSON protocol). Which tokens may assume the role is proven
separately, in tests/unit/test_oidc_trust.py: moto does not evaluate web-identity trust.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mlops_blueprints.components.cicd import GithubActionsRole, GithubActionsRoleArgs
from mlops_blueprints.components.object_store import S3Bucket, S3BucketArgs
from mlops_blueprints.components.registry import EcrRepository, EcrRepositoryArgs
from moto.ecr.responses import ECRResponse

from mlops_blueprints.render import run_program
from tests.components._helpers import aws_model_registry
from tests.moto._harness import REGION, assumed_role, aws_account, is_denied

pytestmark = pytest.mark.moto

PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
REPOSITORY = "mlops/churn"
OTHER_REPOSITORY = "mlops/other"
ARTIFACTS = "acme-mlops-artifacts"
CURATED = "acme-mlops-curated"
GIT_SHA = "3f2c1e9a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {},
        "layers": [],
    }
)


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    """Every inline policy the render attaches to the CI role."""

    def program() -> None:
        registry, artifacts = aws_model_registry(ARTIFACTS)
        curated = S3Bucket("curated", S3BucketArgs(bucket_name=CURATED))
        ci = GithubActionsRole(
            "ci",
            GithubActionsRoleArgs(
                identity_name="ci-build",
                oidc_provider_arn=PROVIDER,
                repository="acme/churn-model",
                branches=("main",),
            ),
        )
        EcrRepository("images", EcrRepositoryArgs(repository_name=REPOSITORY)).grant_push(ci)
        curated.grant_read(ci, prefix="features/")
        artifacts.grant_write(ci, prefix="ci/")
        registry.grant_write(ci)

    capture = run_program(program, project="p", stack="s", config={})
    found = [
        json.loads(r.inputs["policy"])
        for r in capture.registrations
        if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs["role"] == "ci-role"
    ]
    assert len(found) == 4, "push, read features, write ci/, write the registry's prefix"
    return found


@pytest.fixture
def ecr_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Authorise ECR calls against the repository they name, as AWS does."""

    def determine_resource(self: ECRResponse) -> str:
        name = self._get_param("repositoryName")
        if not name:
            return "*"  # GetAuthorizationToken is account-level
        return f"arn:aws:ecr:{self.region}:{self.current_account}:repository/{name}"

    monkeypatch.setattr(ECRResponse, "_determine_resource", determine_resource, raising=False)


@pytest.fixture
def ci_session(documents: list[dict[str, Any]], ecr_resources: None) -> Iterator[boto3.Session]:
    with aws_account():
        ecr = boto3.client("ecr", region_name=REGION)
        for name in (REPOSITORY, OTHER_REPOSITORY):
            ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
            ecr.put_image(repositoryName=name, imageManifest=MANIFEST, imageTag="v1")
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (ARTIFACTS, CURATED):
            s3.create_bucket(Bucket=bucket)
        for key in ("mlflow/1/model.pkl", "ci/report.json", "dvc/data.csv"):
            s3.put_object(Bucket=ARTIFACTS, Key=key, Body=b"x")
        for key in ("features/f.parquet", "pii/users.parquet"):
            s3.put_object(Bucket=CURATED, Key=key, Body=b"x")
        with assumed_role("ci-role", documents) as session:
            yield session


def _denied(call: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return is_denied(error)
    return False


def test_ci_role_pushes_an_image_to_its_one_repository(ci_session: boto3.Session) -> None:
    ecr = ci_session.client("ecr")
    assert ecr.get_authorization_token()["authorizationData"]
    layer = b"layer-bytes"
    upload = ecr.initiate_layer_upload(repositoryName=REPOSITORY)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=REPOSITORY,
        uploadId=upload,
        partFirstByte=0,
        partLastByte=len(layer) - 1,
        layerPartBlob=layer,
    )
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    ecr.complete_layer_upload(repositoryName=REPOSITORY, uploadId=upload, layerDigests=[digest])
    ecr.put_image(repositoryName=REPOSITORY, imageManifest=MANIFEST, imageTag=GIT_SHA)
    pushed = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": GIT_SHA}])
    assert len(pushed["images"]) == 1


def test_ci_role_cannot_touch_another_repository(ci_session: boto3.Session) -> None:
    ecr = ci_session.client("ecr")
    assert _denied(ecr.initiate_layer_upload, repositoryName=OTHER_REPOSITORY)
    assert _denied(
        ecr.put_image, repositoryName=OTHER_REPOSITORY, imageManifest=MANIFEST, imageTag=GIT_SHA
    )
    assert _denied(
        ecr.batch_get_image, repositoryName=OTHER_REPOSITORY, imageIds=[{"imageTag": "v1"}]
    )


def test_ci_role_cannot_delete_or_loosen_its_repository(ci_session: boto3.Session) -> None:
    ecr = ci_session.client("ecr")
    assert _denied(ecr.batch_delete_image, repositoryName=REPOSITORY, imageIds=[{"imageTag": "v1"}])
    assert _denied(ecr.delete_repository, repositoryName=REPOSITORY, force=True)
    assert _denied(
        ecr.put_image_tag_mutability, repositoryName=REPOSITORY, imageTagMutability="MUTABLE"
    )
    assert _denied(ecr.create_repository, repositoryName="mlops/new")


def test_ci_role_reads_and_writes_only_its_data_lake_prefixes(ci_session: boto3.Session) -> None:
    s3 = ci_session.client("s3")
    # Read: the curated features prefix, nothing else there.
    assert s3.get_object(Bucket=CURATED, Key="features/f.parquet")["Body"].read() == b"x"
    listed = s3.list_objects_v2(Bucket=CURATED, Prefix="features/")
    assert [o["Key"] for o in listed["Contents"]] == ["features/f.parquet"]
    assert _denied(s3.get_object, Bucket=CURATED, Key="pii/users.parquet")
    # (Listing is limited to the prefix by an s3:prefix condition, which moto does not
    # evaluate; the condition itself is asserted on the document in tests/components.)
    assert _denied(s3.put_object, Bucket=CURATED, Key="features/new.parquet", Body=b"y")
    # Write: its own prefix and the model registry's artifact prefix, never read or delete.
    s3.put_object(Bucket=ARTIFACTS, Key="ci/run-42/report.json", Body=b"{}")
    s3.put_object(Bucket=ARTIFACTS, Key="mlflow/2/model.pkl", Body=b"m")
    assert _denied(s3.put_object, Bucket=ARTIFACTS, Key="dvc/data.csv", Body=b"y")
    assert _denied(s3.get_object, Bucket=ARTIFACTS, Key="mlflow/1/model.pkl")
    assert _denied(s3.delete_object, Bucket=ARTIFACTS, Key="ci/report.json")
    assert _denied(s3.delete_object, Bucket=ARTIFACTS, Key="mlflow/1/model.pkl")


def test_ci_role_has_nothing_beyond_its_grants(ci_session: boto3.Session) -> None:
    assert _denied(ci_session.client("s3").list_buckets)
    assert _denied(ci_session.client("iam").list_roles)
    assert _denied(
        ci_session.client("iam").put_role_policy,
        RoleName="ci-role",
        PolicyName="escalate",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
