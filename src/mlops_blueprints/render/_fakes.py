"""Plausible provider outputs for mock runs.

Programs read outputs such as ARNs, bucket names and cluster endpoints to build policy
documents and kubeconfigs. These fakes are deterministic, so two renders of the same program
are byte-identical, and shaped like the real values, so rendered IAM documents read true.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["FAKE_ACCOUNT_ID", "FAKE_REGION", "fake_call_result", "fake_resource_state"]

FAKE_ACCOUNT_ID = "123456789012"
FAKE_REGION = "us-east-1"
_FAKE_AZS = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"]


# Stands for the per-account token AWS puts in RDS and ElastiCache host names.
_DNS_ID = "c9akciq32b2j"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _aws_arn(typ: str, name: str, inputs: dict[str, Any]) -> str:
    module, _, kind = typ.split(":")[1].partition("/")
    resource = kind.lower()
    if module == "s3":
        return f"arn:aws:s3:::{inputs.get('bucket', name)}"
    if module == "iam":
        return f"arn:aws:iam::{FAKE_ACCOUNT_ID}:{resource}/{inputs.get('name', name)}"
    if module == "cloudwatch" and resource == "loggroup":
        return f"arn:aws:logs:{FAKE_REGION}:{FAKE_ACCOUNT_ID}:log-group:{inputs.get('name', name)}"
    if module == "eks" and resource == "cluster":
        return f"arn:aws:eks:{FAKE_REGION}:{FAKE_ACCOUNT_ID}:cluster/{inputs.get('name', name)}"
    return f"arn:aws:{module}:{FAKE_REGION}:{FAKE_ACCOUNT_ID}:{resource}/{name}"


def fake_resource_state(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return ``(id, state)`` for a registered resource: its inputs plus faked outputs."""
    state = dict(inputs)
    resource_id = f"{name}-id"
    if typ.startswith("aws:"):
        state.setdefault("arn", _aws_arn(typ, name, inputs))
        state.setdefault("region", FAKE_REGION)
        state.setdefault("tagsAll", inputs.get("tags") or {})
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket", name)
            state.update(
                bucket=bucket,
                bucketRegionalDomainName=f"{bucket}.s3.{FAKE_REGION}.amazonaws.com",
            )
            resource_id = bucket
        elif typ == "aws:iam/role:Role":
            state.setdefault("name", name)
            resource_id = state["name"]
        elif typ == "aws:kms/key:Key":
            resource_id = hashlib.sha256(name.encode()).hexdigest()[:8] + "-mock-key"
            state.update(keyId=resource_id)
        elif typ == "aws:eks/cluster:Cluster":
            cluster = inputs.get("name", name)
            state.update(
                endpoint=f"https://{cluster}.gr7.{FAKE_REGION}.eks.amazonaws.com",
                certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"},
                vpcConfig={
                    **(inputs.get("vpcConfig") or {}),
                    "clusterSecurityGroupId": f"sg-{cluster}-cluster",
                },
                identities=[
                    {"oidcs": [{"issuer": f"https://oidc.eks.{FAKE_REGION}.amazonaws.com/id/MOCK"}]}
                ],
            )
            resource_id = cluster
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.update(latestVersion=1, defaultVersion=1)
        elif typ == "aws:rds/instance:Instance":
            identifier = inputs.get("identifier", name)
            state.update(
                arn=f"arn:aws:rds:{FAKE_REGION}:{FAKE_ACCOUNT_ID}:db:{identifier}",
                resourceId="db-" + _digest(identifier, 26).upper(),
                address=f"{identifier}.{_DNS_ID}.{FAKE_REGION}.rds.amazonaws.com",
                endpoint=f"{identifier}.{_DNS_ID}.{FAKE_REGION}.rds.amazonaws.com:5432",
                masterUserSecrets=[
                    {
                        "secretArn": f"arn:aws:secretsmanager:{FAKE_REGION}:{FAKE_ACCOUNT_ID}"
                        f":secret:rds!db-{_digest(identifier, 8)}"
                    }
                ],
            )
            resource_id = identifier
        elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            group = inputs.get("replicationGroupId", name)
            state.update(
                arn=f"arn:aws:elasticache:{FAKE_REGION}:{FAKE_ACCOUNT_ID}:replicationgroup:{group}",
                primaryEndpointAddress=f"master.{group}.{_DNS_ID}.use1.cache.amazonaws.com",
                readerEndpointAddress=f"replica.{group}.{_DNS_ID}.use1.cache.amazonaws.com",
            )
            resource_id = group
        elif typ == "aws:ecr/repository:Repository":
            repository = inputs.get("name", name)
            state.update(
                arn=f"arn:aws:ecr:{FAKE_REGION}:{FAKE_ACCOUNT_ID}:repository/{repository}",
                registryId=FAKE_ACCOUNT_ID,
                repositoryUrl=f"{FAKE_ACCOUNT_ID}.dkr.ecr.{FAKE_REGION}.amazonaws.com/{repository}",
            )
            resource_id = repository
        elif typ == "aws:dynamodb/table:Table":
            table = inputs.get("name", name)
            state["arn"] = f"arn:aws:dynamodb:{FAKE_REGION}:{FAKE_ACCOUNT_ID}:table/{table}"
            resource_id = table
        elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            url = str(inputs.get("url", "")).removeprefix("https://")
            state["arn"] = f"arn:aws:iam::{FAKE_ACCOUNT_ID}:oidc-provider/{url}"
    elif typ.startswith("kubernetes:") and isinstance(inputs.get("metadata"), dict):
        metadata = inputs["metadata"]
        namespace = metadata.get("namespace")
        obj_name = metadata.get("name", name)
        resource_id = f"{namespace}/{obj_name}" if namespace else str(obj_name)
    return resource_id, state


def fake_call_result(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Answer provider data-source calls (invokes) used by the blueprints."""
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": FAKE_ACCOUNT_ID,
            "arn": f"arn:aws:iam::{FAKE_ACCOUNT_ID}:user/render",
            "userId": "AIDAMOCK",
            "id": FAKE_ACCOUNT_ID,
        }
    if token in ("aws:index/getRegion:getRegion", "aws:index/region:Region"):
        return {"name": FAKE_REGION, "region": FAKE_REGION, "id": FAKE_REGION}
    if token == "aws:iam/getSessionContext:getSessionContext":
        arn = str(args.get("arn", f"arn:aws:iam::{FAKE_ACCOUNT_ID}:user/render"))
        return {"arn": arn, "issuerArn": arn, "id": arn}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": list(_FAKE_AZS), "zoneIds": [f"use1-az{i}" for i in range(1, 7)]}
    return dict(args)
