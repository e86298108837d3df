"""Load generated IAM policy documents into moto with IAM enforcement on, and act as the role.

Setup runs with enforcement off (as an administrator would); the returned session holds the
temporary credentials of a role that has exactly the documents under test, and every call it
makes afterwards is authorised by moto against them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import disable_iam_authentication, enable_iam_authentication

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


@contextmanager
def aws_account() -> Iterator[None]:
    """A fresh moto account; setup calls inside run without IAM enforcement."""
    with mock_aws(), disable_iam_authentication():
        yield


@contextmanager
def assumed_role(role_name: str, documents: list[dict[str, Any]]) -> Iterator[boto3.Session]:
    """Create a role with ``documents`` as inline policies, assume it, then enforce IAM."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="tester")
    keys = iam.create_access_key(UserName="tester")["AccessKey"]
    iam.put_user_policy(
        UserName="tester",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/tester"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    for index, document in enumerate(documents):
        iam.put_role_policy(
            RoleName=role_name, PolicyName=f"grant-{index}", PolicyDocument=json.dumps(document)
        )
    with enable_iam_authentication():
        sts = boto3.client(
            "sts",
            region_name=REGION,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
        )
        creds = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="grant-test")[
            "Credentials"
        ]
        yield boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=REGION,
        )


def is_denied(error: ClientError) -> bool:
    """moto answers AccessDenied for query/REST services and a bare 403 for JSON ones."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("AccessDenied", "AccessDeniedException") or status == 403
