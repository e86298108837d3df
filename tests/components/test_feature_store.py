"""FeatureStore: exact children, per-target online config, identities, grants, bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
import pytest
from mlops_blueprints.components.feature_store import (
    FeatureStore,
    FeatureStoreArgs,
    feature_store_yaml,
    registry_path,
)
from mlops_blueprints.components.identity import (
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.key_value import (
    DynamoDbTable,
    DynamoDbTableArgs,
    InClusterRedis,
    InClusterRedisArgs,
)
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs

from mlops_blueprints.check import run_checks
from mlops_blueprints.render import RenderCapture, run_program, write_rendered
from mlops_blueprints.targets._seam import KeyValueConnection
from mlops_blueprints.versions import IMAGES
from tests.components._helpers import by_name, children, irsa, pods_of, raises

pytestmark = pytest.mark.unit

SERVER_SELECTOR = {
    "app.kubernetes.io/name": "feast-feature-server",
    "app.kubernetes.io/instance": "features",
}


@dataclass
class FakeObjectStore:
    """An ObjectStore that records its grants (the stores' own tests cover the policies)."""

    bucket: str
    grants: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def bucket_name(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input(self.bucket)

    @property
    def uri(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input(f"s3://{self.bucket}")

    @property
    def endpoint_url(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input("https://s3.example.internal")

    def grant_read(self, identity: Any, *, prefix: str = "") -> None:
        self.grants.append(("read", identity.identity_name, prefix))

    def grant_write(self, identity: Any, *, prefix: str = "") -> None:
        self.grants.append(("write", identity.identity_name, prefix))


def _static(namespace: Any, name: str) -> StaticCredentialsIdentity:
    return StaticCredentialsIdentity(
        f"{name}-identity",
        StaticCredentialsIdentityArgs(namespace=namespace, service_account_name=name),
    )


def _program(flavour: str, stores: dict[str, FakeObjectStore]) -> Callable[[], None]:
    def program() -> None:
        namespace = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        ns = namespace.namespace_name
        make = _static if flavour == "kind" else irsa
        server = make(ns, "feature-server")
        materializer = make(ns, "materializer")
        consumer = make(ns, "serving")
        producer = make(ns, "pipelines")
        online: Any
        if flavour == "kind":
            online = InClusterRedis(
                "online", InClusterRedisArgs(namespace=ns, allowed_namespaces=[ns])
            )
        else:
            online = DynamoDbTable("online", DynamoDbTableArgs(table_name="acme-online"))
        store = FeatureStore(
            "features",
            FeatureStoreArgs(
                namespace=ns,
                project="driver_ranking",
                registry_store=stores["registry"],  # type: ignore[arg-type]
                offline_store=stores["lake"],  # type: ignore[arg-type]
                online_store=online,
                server_identity=server,
                materializer_identity=materializer,
                materialize_schedule="*/30 * * * *",
            ),
        )
        store.grant_read(consumer)
        store.grant_write(producer)

    return program


@pytest.fixture(scope="module", params=["kind", "aws"])
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, RenderCapture, dict[str, FakeObjectStore]]:
    stores = {"registry": FakeObjectStore("acme-registry"), "lake": FakeObjectStore("acme-lake")}
    capture = run_program(
        _program(request.param, stores), project="mlops-platform", stack="test", config={}
    )
    out = tmp_path_factory.mktemp(request.param)
    write_rendered(capture, out)
    report = run_checks(out, upstream=Path(os.environ["MLOPS_BP_UPSTREAM_DIR"]))
    assert report.ok, [f"{f.object}: {f.field}: {f.message}" for f in report.findings]
    return request.param, capture, stores


def _config(capture: RenderCapture) -> dict[str, Any]:
    data = by_name(capture)["features-config"].inputs["data"]["feature_store.yaml"]
    return json.loads(data)


def test_exact_children(rendered: tuple[str, RenderCapture, Any]) -> None:
    _, capture, _ = rendered
    assert by_name(capture)["features"].type == "mlops:features:FeatureStore"
    assert children(capture, "features") == {
        "features-config": "kubernetes:core/v1:ConfigMap",
        "features-service": "kubernetes:core/v1:Service",
        "features-deployment": "kubernetes:apps/v1:Deployment",
        "features-network-policy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "features-materialize": "kubernetes:batch/v1:CronJob",
        "features-serving-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "features-serving-ingress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    }


def test_online_store_type_per_target(rendered: tuple[str, RenderCapture, Any]) -> None:
    flavour, capture, _ = rendered
    config = _config(capture)
    assert config["project"] == "driver_ranking"
    assert config["registry"]["path"] == "s3://acme-registry/feast/registry.db"
    assert config["offline_store"] == {"type": "file"}
    if flavour == "kind":
        assert config["online_store"] == {
            "type": "redis",
            "connection_string": "redis.mlops.svc.cluster.local:6379,"
            "username=${REDIS_USERNAME},password=${REDIS_PASSWORD}",
        }
    else:
        assert config["online_store"]["type"] == "dynamodb"
        assert config["online_store"]["table_name_template"] == (
            "acme-online.{project}.{table_name}"
        )


def _pod(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["template"]


def test_server_runs_as_its_identity_restricted(rendered: tuple[str, RenderCapture, Any]) -> None:
    flavour, capture, _ = rendered
    deployment = by_name(capture)["features-deployment"].inputs["spec"]
    template = deployment["template"]
    assert template["metadata"]["labels"]["mlops-blueprints.io/identity"] == "feature-server"
    assert deployment["selector"]["matchLabels"] == SERVER_SELECTOR
    spec = template["spec"]
    assert spec["serviceAccountName"] == "feature-server"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    (container,) = spec["containers"]
    assert container["image"] == IMAGES["feast-feature-server"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"] == "1024Mi"
    assert "serve" in container["command"]
    env_from = container.get("envFrom")
    if flavour == "kind":
        # Redis credentials from the grant, object-store keys from the identity.
        assert env_from == [
            {"secretRef": {"name": "feature-server-redis"}},
            {"secretRef": {"name": "feature-server-credentials"}},
        ]
    else:
        assert env_from is None


def test_cron_job_runs_as_the_materializer_on_schedule(
    rendered: tuple[str, RenderCapture, Any],
) -> None:
    _, capture, _ = rendered
    cron = by_name(capture)["features-materialize"].inputs["spec"]
    assert cron["schedule"] == "*/30 * * * *"
    assert cron["concurrencyPolicy"] == "Forbid"
    pod = cron["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["mlops-blueprints.io/identity"] == "materializer"
    assert pod["spec"]["serviceAccountName"] == "materializer"
    assert pod["spec"]["automountServiceAccountToken"] is False
    (container,) = pod["spec"]["containers"]
    assert "materialize-incremental" in container["args"][0]
    assert container["image"] == IMAGES["feast-feature-server"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_object_store_grants_are_least_privilege(rendered: tuple[str, RenderCapture, Any]) -> None:
    _, _, stores = rendered
    assert sorted(stores["registry"].grants) == [
        ("read", "feature-server", "feast/"),
        ("read", "materializer", "feast/"),
        ("read", "pipelines", "feast/"),
        ("read", "serving", "feast/"),
        ("write", "materializer", "feast/"),
    ]
    assert sorted(stores["lake"].grants) == [
        ("read", "materializer", "features/"),
        ("write", "pipelines", "features/"),
    ]


def test_online_store_grants(rendered: tuple[str, RenderCapture, Any]) -> None:
    flavour, capture, _ = rendered
    names = set(by_name(capture))
    if flavour == "kind":
        for identity in ("feature-server", "materializer", "serving"):
            assert f"online-{identity}-connection" in names
        assert "online-pipelines-connection" not in names
        config = by_name(capture)["online-config"].inputs["stringData"]["redis.conf"]
        assert config  # users are rendered into the server's ACL file
    else:
        policies = {n for n in names if by_name(capture)[n].type == "aws:iam/rolePolicy:RolePolicy"}
        assert policies == {
            "online-read-feature-server",
            "online-read-materializer",
            "online-write-materializer",
            "online-read-serving",
        }


def test_read_grant_opens_the_server_to_the_consumer(
    rendered: tuple[str, RenderCapture, Any],
) -> None:
    _, capture, _ = rendered
    resources = by_name(capture)
    egress = resources["features-serving-egress"].inputs["spec"]
    assert egress["podSelector"] == {"matchLabels": {"mlops-blueprints.io/identity": "serving"}}
    assert egress["egress"] == [
        {"to": [pods_of("mlops", SERVER_SELECTOR)], "ports": [{"protocol": "TCP", "port": 6566}]}
    ]
    ingress = resources["features-serving-ingress"].inputs["spec"]
    assert ingress["podSelector"] == {"matchLabels": SERVER_SELECTOR}
    assert ingress["ingress"] == [
        {
            "from": [pods_of("mlops", {"mlops-blueprints.io/identity": "serving"})],
            "ports": [{"protocol": "TCP", "port": 6566}],
        }
    ]
    base = resources["features-network-policy"].inputs["spec"]
    assert base["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }
    ]


# --- pure planning ----------------------------------------------------------------------------


def test_feature_store_yaml_for_dynamodb_and_tls_redis() -> None:
    dynamo = json.loads(
        feature_store_yaml(
            project="p1",
            registry=registry_path("s3://bucket/"),
            offline_uri="s3://lake/features/",
            online=KeyValueConnection(kind="dynamodb", region="eu-west-1", table_prefix="t."),
        )
    )
    assert dynamo["registry"]["path"] == "s3://bucket/feast/registry.db"
    assert dynamo["online_store"] == {
        "type": "dynamodb",
        "region": "eu-west-1",
        "table_name_template": "t.{project}.{table_name}",
    }
    redis = json.loads(
        feature_store_yaml(
            project="p1",
            registry="/tmp/r.db",
            offline_uri="/data",
            online=KeyValueConnection(kind="redis", host="h", port=6379, tls=True),
        )
    )
    assert redis["offline_store"] == {"type": "duckdb"}
    assert redis["online_store"]["connection_string"].endswith(",ssl=true")


# --- bad input ----------------------------------------------------------------------------------


def _args(**overrides: Any) -> FeatureStoreArgs:
    class _Identity:
        def __init__(self, name: str) -> None:
            self.identity_name = name
            self.namespace = pulumi.Output.from_input("mlops")
            self.service_account_name = pulumi.Output.from_input(name)
            self.pod_labels = {"mlops-blueprints.io/identity": name}
            self.credentials_secret_name = None

    class _Online:
        endpoint = pulumi.Output.from_input("redis://x")

        def grant_read(self, identity: Any) -> None: ...
        def grant_write(self, identity: Any) -> None: ...
        def connection(self, identity: Any) -> KeyValueConnection:
            return KeyValueConnection(kind="redis")

    base: dict[str, Any] = {
        "namespace": "mlops",
        "project": "driver_ranking",
        "registry_store": FakeObjectStore("r"),
        "offline_store": FakeObjectStore("l"),
        "online_store": _Online(),
        "server_identity": _Identity("feature-server"),
        "materializer_identity": _Identity("materializer"),
    }
    base.update(overrides)
    return FeatureStoreArgs(**base)


def test_valid_args_pass() -> None:
    assert _args().materialize_schedule == "0 * * * *"


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("project", "driver-ranking", "letters, digits and '_'"),
        ("project", "_hidden", "starting with a letter or digit"),
        ("materialize_schedule", "every hour", "five-field cron"),
        ("materialize_schedule", "61 * * * *", "minute 0-59"),
        ("materialize_schedule", "0 * * *", "five-field cron"),
        ("replicas", 0, "1 to 20"),
        ("offline_prefix", "features", "End the prefix with '/'"),
        ("offline_prefix", "", "Name a prefix"),
        ("cpu_request", "lots", "positive CPU quantity"),
        ("prometheus_namespace", "Monitoring", "lowercase"),
        ("online_store", "redis://x", "KeyValueStore"),
        ("registry_store", None, "ObjectStore"),
    ],
)
def test_bad_values(field: str, value: object, fix: str) -> None:
    raises(lambda: _args(**{field: value}), field, value, fix)


def test_server_and_materializer_need_distinct_identities() -> None:
    same = _args().server_identity
    raises(
        lambda: _args(materializer_identity=same),
        "materializer_identity",
        "feature-server",
        "its own identity",
    )


def test_connection_dataclass_is_frozen() -> None:
    connection = KeyValueConnection(kind="redis", host="h")
    assert replace(connection, host="x").host == "x"
    with pytest.raises(AttributeError):
        connection.host = "y"  # type: ignore[misc]
