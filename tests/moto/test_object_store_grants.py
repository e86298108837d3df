"""S3 grants are least privilege: proven on moto with IAM enforcement on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mlops_blueprints.components.object_store._policies import s3_grant_statements

from mlops_blueprints.render import find_level_stack, render_project
from tests.moto._harness import REGION, assumed_role, aws_account, is_denied

pytestmark = pytest.mark.moto

BUCKET = "acme-mlops-dev-lake-artifacts"
OTHER_BUCKET = "acme-mlops-dev-lake-raw"


def _document(mode: str, prefix: str, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": s3_grant_statements(
            mode=mode,  # type: ignore[arg-type]
            bucket_arn=f"arn:aws:s3:::{bucket}",
            prefix=prefix,
            kms_key_arn=None,
        ),
    }


def _seed() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (BUCKET, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
        for key in ("mlflow/run-1/model.pkl", "other/secret.csv"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return is_denied(error)
    return False


def test_read_grant_allows_reading_the_prefix_and_nothing_else() -> None:
    with aws_account():
        _seed()
        with assumed_role("reader", [_document("read", "mlflow/")]) as session:
            s3 = session.client("s3")
            assert s3.get_object(Bucket=BUCKET, Key="mlflow/run-1/model.pkl")["Body"].read() == b"x"
            listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="mlflow/")
            assert [o["Key"] for o in listed["Contents"]] == ["mlflow/run-1/model.pkl"]
            # Neighbours: another prefix, another bucket, writing, deleting.
            assert _denied(s3.get_object, Bucket=BUCKET, Key="other/secret.csv")
            assert _denied(s3.get_object, Bucket=OTHER_BUCKET, Key="mlflow/run-1/model.pkl")
            assert _denied(s3.put_object, Bucket=BUCKET, Key="mlflow/new.pkl", Body=b"y")
            assert _denied(s3.delete_object, Bucket=BUCKET, Key="mlflow/run-1/model.pkl")


def test_write_grant_allows_writing_the_prefix_and_nothing_else() -> None:
    with aws_account():
        _seed()
        with assumed_role("writer", [_document("write", "mlflow/")]) as session:
            s3 = session.client("s3")
            s3.put_object(Bucket=BUCKET, Key="mlflow/run-2/model.pkl", Body=b"y")
            assert _denied(s3.put_object, Bucket=BUCKET, Key="other/x.csv", Body=b"y")
            assert _denied(s3.put_object, Bucket=OTHER_BUCKET, Key="mlflow/x", Body=b"y")
            assert _denied(s3.get_object, Bucket=BUCKET, Key="mlflow/run-1/model.pkl")
            assert _denied(s3.delete_object, Bucket=BUCKET, Key="mlflow/run-1/model.pkl")


def test_rendered_level1_grants_hold_on_moto(tmp_path: Path) -> None:
    """The documents the Level 1 aws render produces, not hand-built ones."""
    result = render_project(find_level_stack(1), stack="aws", sets=[], out_dir=tmp_path)
    documents = [
        json.loads(p.read_text())["document"]
        for p in sorted((tmp_path / "iam").glob("data-lake-artifacts-*-mlflow-*.json"))
    ]
    assert len(documents) == 2
    bucket = next(
        r.inputs["bucket"]
        for r in result.capture.registrations
        if r.name == "data-lake-artifacts-bucket"
    )
    with aws_account():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="mlflow/a", Body=b"1")
        s3.put_object(Bucket=bucket, Key="dvc/b", Body=b"2")
        with assumed_role("mlflow", documents) as session:
            client = session.client("s3")
            client.put_object(Bucket=bucket, Key="mlflow/b", Body=b"3")
            assert client.get_object(Bucket=bucket, Key="mlflow/b")["Body"].read() == b"3"
            assert _denied(client.get_object, Bucket=bucket, Key="dvc/b")
            assert _denied(client.delete_object, Bucket=bucket, Key="mlflow/a")


def test_rendered_level3_service_grants_hold_on_moto(tmp_path: Path) -> None:
    """Registry readers, pipeline runner and feature store: the Level 3 aws documents."""
    render_project(find_level_stack(3), stack="aws", sets=[], out_dir=tmp_path)
    iam = tmp_path / "iam"

    def documents(identity: str) -> list[dict[str, Any]]:
        found = [
            json.loads(p.read_text())["document"]
            for p in sorted(iam.glob(f"data-lake-*-{identity}-*.json"))
        ]
        assert found, f"no data-lake grants rendered for {identity}"
        return found

    artifacts, curated = "acme-mlops-dev-lake-artifacts", "acme-mlops-dev-lake-curated"

    @contextmanager
    def as_role(role: str, identity: str) -> Iterator[Any]:
        # One fresh account per role: the harness creates its test user once per account.
        with aws_account():
            s3 = boto3.client("s3", region_name=REGION)
            for bucket in (artifacts, curated):
                s3.create_bucket(Bucket=bucket)
            for key in ("mlflow/m", "pipelines/p", "feast/registry.db", "dvc/d"):
                s3.put_object(Bucket=artifacts, Key=key, Body=b"x")
            s3.put_object(Bucket=curated, Key="features/f.parquet", Body=b"x")
            with assumed_role(role, documents(identity)) as session:
                yield session.client("s3")

    # Serving reads models and nothing else.
    with as_role("model-serving", "model-serving") as client:
        assert client.get_object(Bucket=artifacts, Key="mlflow/m")["Body"].read() == b"x"
        assert _denied(client.put_object, Bucket=artifacts, Key="mlflow/n", Body=b"y")
        assert _denied(client.get_object, Bucket=artifacts, Key="pipelines/p")
        assert _denied(client.delete_object, Bucket=artifacts, Key="mlflow/m")

    # The pipeline runner owns the pipeline root and may log models.
    with as_role("pipeline-runner", "pipeline-runner-mlops") as client:
        client.put_object(Bucket=artifacts, Key="pipelines/run-1/out", Body=b"y")
        assert client.get_object(Bucket=artifacts, Key="pipelines/p")["Body"].read() == b"x"
        client.put_object(Bucket=artifacts, Key="mlflow/run-1/model.pkl", Body=b"y")
        assert _denied(client.get_object, Bucket=artifacts, Key="dvc/d")
        assert _denied(client.put_object, Bucket=artifacts, Key="feast/registry.db", Body=b"")
        assert _denied(client.delete_object, Bucket=artifacts, Key="pipelines/p")

    # The feature server only reads the registry.
    with as_role("feature-server", "feature-server") as client:
        assert client.get_object(Bucket=artifacts, Key="feast/registry.db")["Body"].read()
        assert _denied(client.put_object, Bucket=artifacts, Key="feast/x", Body=b"")
        assert _denied(client.get_object, Bucket=artifacts, Key="mlflow/m")
        assert _denied(client.get_object, Bucket=curated, Key="features/f.parquet")

    # The materializer reads offline features and maintains the registry; no more.
    with as_role("feature-materializer", "feature-materializer") as client:
        assert client.get_object(Bucket=curated, Key="features/f.parquet")["Body"].read()
        client.put_object(Bucket=artifacts, Key="feast/registry.db", Body=b"z")
        assert _denied(client.put_object, Bucket=curated, Key="features/g", Body=b"")
        assert _denied(client.get_object, Bucket=artifacts, Key="mlflow/m")
        assert _denied(client.delete_object, Bucket=artifacts, Key="feast/registry.db")
