"""Model registry: an MLflow server on the Postgres and bucket the target provides.

The server settings and chart values are pure functions, tested directly (including against
the way the pinned chart turns values into ``mlflow server`` arguments). The component is
rendered under mocks on both target flavours, with `mlops-bp check` on the result.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from mlops_blueprints.components.database import (
    InClusterPostgres,
    InClusterPostgresArgs,
    RdsPostgres,
    RdsPostgresArgs,
)
from mlops_blueprints.components.identity import (
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs
from mlops_blueprints.components.model_registry import (
    ModelRegistry,
    ModelRegistryArgs,
    _sitecustomize,
    chart_values,
    server_settings,
)
from mlops_blueprints.components.model_registry._plan import (
    CHART_METRICS_DIR,
    IAM_PASSWORD_PLACEHOLDER,
    MLFLOW_PORT,
    ChartPlan,
    server_args,
    sitecustomize_source,
)
from mlops_blueprints.components.object_store import (
    S3Bucket,
    S3BucketArgs,
    SeaweedfsServer,
    SeaweedfsServerArgs,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from mlops_blueprints.render import RenderCapture, run_program
from mlops_blueprints.targets._seam import ObjectStoreArgs
from mlops_blueprints.versions import CHARTS
from tests.components._helpers import (
    assert_client_egress,
    by_name,
    children,
    irsa,
    pods_of,
    raises,
    render_checked,
    stand_in_operator,
)

pytestmark = pytest.mark.unit

NETWORK: dict[str, Any] = {
    "vpc_id": "vpc-0abc",
    "subnet_ids": ["subnet-a", "subnet-b"],
    "allowed_cidr_blocks": ["10.0.0.0/16"],
}
SELECTOR = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": "mlflow"}
RELEASE = "kubernetes:helm.sh/v3:Release"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


# --- pure planning --------------------------------------------------------------------------


def chart_rendered_args(values: dict[str, Any]) -> list[str]:
    """The `mlflow server` arguments the pinned chart's Deployment template renders.

    Mirrors the template branches these values reach: postgres backend, proxied S3
    artifacts, the ServiceMonitor's metrics flag, basic auth, logging, extraArgs.
    """
    args = ["server", "--host=0.0.0.0", f"--port={values['service']['containerPort']}"]
    driver = values["backendStore"]["postgres"].get("driver")
    assert driver in ("", "psycopg2")
    args.append(f"--backend-store-uri=postgresql{'+' + driver if driver else ''}://")
    s3 = values["artifactRoot"]["s3"]
    assert values["artifactRoot"]["proxiedArtifactStorage"]
    assert s3["enabled"]
    args.append(f"--artifacts-destination=s3://{s3['bucket']}/{s3['path']}")
    args.append("--serve-artifacts")
    if values["serviceMonitor"]["enabled"]:
        args.append(f"--expose-prometheus={CHART_METRICS_DIR}")
    if values["auth"]["enabled"]:
        args.append(f"--app-name={values['auth']['appName']}")
    assert not values["log"]["enabled"], "the chart would add a quoted --uvicorn-opts"
    for key, value in sorted(values["extraArgs"].items()):
        args.append(f"--{re.sub(r'(?<!^)(?=[A-Z])', '-', key).lower()}={value}")
    return args


def _plan(**overrides: Any) -> ChartPlan:
    fields: dict[str, Any] = {
        "release_name": "mlflow",
        "replicas": 1,
        "service_account_name": "mlflow",
        "pod_labels": {"mlops-blueprints.io/identity": "mlflow"},
        "db_host": "postgres.mlops-data.svc.cluster.local",
        "db_port": 5432,
        "db_name": "mlops",
        "db_user": "mlflow",
        "db_password_secret": ("mlflow-postgres", "PGPASSWORD"),
        "sslmode": "prefer",
        "iam_region": None,
        "bucket": "acme-models",
        "prefix": "mlflow/",
        "s3_endpoint_url": "http://seaweedfs.mlops-data.svc.cluster.local:8333",
        "s3_credentials_secret": "mlflow-credentials",
        "enable_authentication": False,
        "admin_secret_name": None,
        "sitecustomize_config_map": None,
        "service_monitor_namespace": "mlops",
        "service_monitor_labels": {"release": "kube-prometheus-stack"},
        "resources": {"requests": {"cpu": "250m"}},
    }
    fields.update(overrides)
    return ChartPlan(**fields)


@pytest.mark.parametrize("auth", [False, True])
def test_chart_runs_the_server_with_exactly_the_planned_arguments(auth: bool) -> None:
    values = chart_values(_plan(enable_authentication=auth, admin_secret_name="mlflow-admin"))
    assert chart_rendered_args(values) == server_args(
        host="0.0.0.0",
        port=MLFLOW_PORT,
        artifacts_destination="s3://acme-models/mlflow/",
        metrics_dir=CHART_METRICS_DIR,
        enable_authentication=auth,
    )


def test_server_settings_are_lean_and_keep_credentials_out_of_arguments() -> None:
    settings = server_settings(
        host="127.0.0.1",
        port=5001,
        bucket="b",
        prefix="mlflow/",
        metrics_dir="/tmp/m",
        s3_endpoint_url="http://127.0.0.1:9000",
    )
    assert settings.args == [
        "server",
        "--host=127.0.0.1",
        "--port=5001",
        "--backend-store-uri=postgresql+psycopg2://",
        "--artifacts-destination=s3://b/mlflow/",
        "--serve-artifacts",
        "--expose-prometheus=/tmp/m",
        "--workers=1",
    ]
    assert settings.env == {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "PGSSLMODE": "prefer",
        "MLFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    }


def test_chart_values_for_static_credentials_use_the_grant_secrets() -> None:
    values = chart_values(_plan())
    assert values["backendStore"]["existingDatabaseSecret"] == {
        "name": "mlflow-postgres",
        "usernameKey": "PGUSER",
        "passwordKey": "PGPASSWORD",
    }
    assert values["artifactRoot"]["s3"]["existingSecret"]["name"] == "mlflow-credentials"
    assert "PYTHONPATH" not in values["extraEnvVars"]
    assert values["serviceAccount"] == {"create": False, "automount": False, "name": "mlflow"}


def test_chart_values_for_iam_auth_install_the_token_hook_and_no_keys() -> None:
    values = chart_values(
        _plan(
            db_password_secret=None,
            sslmode="require",
            iam_region="eu-west-1",
            s3_credentials_secret=None,
            sitecustomize_config_map="mlflow-python-hooks",
        )
    )
    assert "existingDatabaseSecret" not in values["backendStore"]
    assert values["backendStore"]["postgres"]["password"] == IAM_PASSWORD_PLACEHOLDER
    assert "existingSecret" not in values["artifactRoot"]["s3"]
    env = values["extraEnvVars"]
    assert env["PGSSLMODE"] == "require"
    assert env["MLOPS_RDS_IAM_AUTH"] == "true"
    assert env["MLOPS_RDS_IAM_REGION"] == "eu-west-1"
    assert env["PYTHONPATH"] == "/opt/mlops/python"
    assert {"name": "python-hooks", "configMap": {"name": "mlflow-python-hooks"}} in values[
        "extraVolumes"
    ]


# --- rendered components --------------------------------------------------------------------


@pytest.fixture(scope="module")
def kind(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        data = WorkloadNamespace("data-ns", WorkloadNamespaceArgs(namespace="mlops-data"))
        apps = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        server = StaticCredentialsIdentity(
            "tracking",
            StaticCredentialsIdentityArgs(
                namespace=apps.namespace_name, service_account_name="mlflow"
            ),
        )
        trainer = StaticCredentialsIdentity(
            "trainer",
            StaticCredentialsIdentityArgs(
                namespace=apps.namespace_name, service_account_name="trainer"
            ),
        )
        database = InClusterPostgres(
            "tracking-db",
            InClusterPostgresArgs(
                namespace=data.namespace_name, allowed_namespaces=[apps.namespace_name]
            ),
        )
        store = SeaweedfsServer("lake", SeaweedfsServerArgs(namespace=data.namespace_name))
        bucket = store.bucket(
            "models", ObjectStoreArgs(bucket_name="acme-models", purpose="models")
        )
        database.grant_connect(server)
        bucket.grant_read(server, prefix="mlflow/")
        bucket.grant_write(server, prefix="mlflow/")
        operator = stand_in_operator()
        registry = ModelRegistry(
            "registry",
            ModelRegistryArgs(
                namespace=apps.namespace_name,
                identity=server,
                database=database,
                artifact_store=bucket,
                prometheus_operator=operator,
            ),
        )
        registry.grant_write(trainer)
        registry.grant_read(trainer)  # one client, one egress policy

    return render_checked(program, tmp_path_factory.mktemp("registry-kind"))


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        apps = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        server = irsa(apps.namespace_name, "mlflow")
        serving = irsa(apps.namespace_name, "serving")
        database = RdsPostgres("tracking-db", RdsPostgresArgs(identifier="acme-db", **NETWORK))
        bucket = S3Bucket("models", S3BucketArgs(bucket_name="acme-models"))
        database.grant_connect(server)
        bucket.grant_read(server, prefix="mlflow/")
        bucket.grant_write(server, prefix="mlflow/")
        registry = ModelRegistry(
            "registry",
            ModelRegistryArgs(
                namespace=apps.namespace_name,
                identity=server,
                database=database,
                artifact_store=bucket,
                replicas=2,
                enable_authentication=True,
            ),
        )
        registry.grant_read(serving)

    return render_checked(program, tmp_path_factory.mktemp("registry-aws"))


def _values(capture: RenderCapture) -> dict[str, Any]:
    release = by_name(capture)["registry-release"]
    assert release.type == RELEASE
    return release.inputs["values"]


def test_kind_children(kind: RenderCapture) -> None:
    assert children(kind, "registry") == {
        "registry-release": RELEASE,
        "registry-network-policy": POLICY,
        "registry-trainer-egress": POLICY,
    }


def test_aws_children(aws: RenderCapture) -> None:
    assert children(aws, "registry") == {
        "registry-admin-password": "random:index/randomPassword:RandomPassword",
        "registry-admin": "kubernetes:core/v1:Secret",
        "registry-python-hooks": "kubernetes:core/v1:ConfigMap",
        "registry-release": RELEASE,
        "registry-network-policy": POLICY,
        "registry-pdb": "kubernetes:policy/v1:PodDisruptionBudget",
        "registry-serving-egress": POLICY,
    }


def test_release_is_the_pinned_chart(kind: RenderCapture) -> None:
    release = by_name(kind)["registry-release"]
    pinned = CHARTS["mlflow"]
    assert release.inputs["chart"] == pinned.chart
    assert release.inputs["version"] == pinned.version
    assert release.inputs["repositoryOpts"] == {"repo": pinned.repository}
    assert release.inputs["namespace"] == "mlops"


def test_artifacts_go_to_the_data_lake_bucket_under_the_prefix(
    kind: RenderCapture, aws: RenderCapture
) -> None:
    for capture in (kind, aws):
        values = _values(capture)
        assert values["artifactRoot"]["proxiedArtifactStorage"] is True
        s3 = values["artifactRoot"]["s3"]
        assert (s3["enabled"], s3["bucket"], s3["path"]) == (True, "acme-models", "mlflow/")
    assert (
        _values(kind)["extraEnvVars"]["MLFLOW_S3_ENDPOINT_URL"]
        == "http://lake.mlops-data.svc.cluster.local:8333"
    )
    assert _values(kind)["artifactRoot"]["s3"]["existingSecret"]["name"] == "mlflow-credentials"
    # No static keys on aws: the pod's web identity signs requests.
    assert "existingSecret" not in _values(aws)["artifactRoot"]["s3"]


def test_kind_database_uses_the_grant_role_and_its_secret(kind: RenderCapture) -> None:
    backend = _values(kind)["backendStore"]
    assert backend["postgres"]["host"] == "postgres.mlops-data.svc.cluster.local"
    assert backend["postgres"]["user"] == "mlflow"
    assert backend["existingDatabaseSecret"] == {
        "name": "mlflow-postgres",
        "usernameKey": "PGUSER",
        "passwordKey": "PGPASSWORD",
    }
    env = _values(kind)["extraEnvVars"]
    assert env["PGSSLMODE"] == "prefer"
    assert "MLOPS_RDS_IAM_AUTH" not in env


def test_aws_database_uses_iam_tokens_over_tls(aws: RenderCapture) -> None:
    values = _values(aws)
    assert "existingDatabaseSecret" not in values["backendStore"]
    assert values["backendStore"]["postgres"]["password"] == IAM_PASSWORD_PLACEHOLDER
    env = values["extraEnvVars"]
    assert env["PGSSLMODE"] == "require"
    assert env["MLOPS_RDS_IAM_AUTH"] == "true"
    assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", env["MLOPS_RDS_IAM_REGION"])
    hooks = by_name(aws)["registry-python-hooks"].inputs["data"]["sitecustomize.py"]
    assert "generate_db_auth_token" in hooks
    assert '"do_connect"' in hooks


def test_authentication_off_and_on(kind: RenderCapture, aws: RenderCapture) -> None:
    assert _values(kind)["auth"] == {"enabled": False}
    auth = _values(aws)["auth"]
    assert auth["enabled"] is True
    assert auth["appName"] == "basic-auth"
    assert auth["existingAdminSecret"]["name"] == "mlflow-admin"
    # Users live in the tracking database, so every replica sees the same ones.
    assert auth["postgres"]["enabled"] is True
    admin = by_name(aws)["registry-admin"].inputs
    assert admin["metadata"]["name"] == "mlflow-admin"
    assert set(admin["stringData"]) == {"username", "password"}


def test_pdb_only_with_more_than_one_replica(kind: RenderCapture, aws: RenderCapture) -> None:
    assert _values(kind)["replicaCount"] == 1
    assert not any(r.type.endswith("PodDisruptionBudget") for r in kind.registrations)
    pdb = by_name(aws)["registry-pdb"].inputs
    assert _values(aws)["replicaCount"] == 2
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": SELECTOR}}


def test_pods_run_as_the_identity_restricted_with_requests_and_limits(
    kind: RenderCapture,
) -> None:
    values = _values(kind)
    assert values["serviceAccount"] == {"create": False, "automount": False, "name": "mlflow"}
    assert values["extraPodLabels"]["mlops-blueprints.io/identity"] == "mlflow"
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = values["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert values["resources"] == {
        "requests": {"cpu": "250m", "memory": "768Mi"},
        "limits": {"cpu": "1", "memory": "1536Mi"},
    }
    assert values["extraArgs"] == {"workers": "1"}
    assert values["extraEnvVars"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    # The metrics directory is writable although the root filesystem is not.
    assert {"name": "metrics", "mountPath": CHART_METRICS_DIR} in values["extraVolumeMounts"]


def test_metrics_are_scraped_by_a_service_monitor(kind: RenderCapture) -> None:
    monitor = _values(kind)["serviceMonitor"]
    assert monitor["enabled"] is True
    assert monitor["namespace"] == "mlops"
    assert monitor["labels"] == {"mlops-blueprints.io/monitoring": "true"}
    # The chart's ServiceMonitor needs the CRDs the operator's release installs.
    found = by_name(kind)
    assert found["prometheus"].urn in found["registry-release"].dependencies


def test_no_service_monitor_without_an_operator(aws: RenderCapture) -> None:
    assert _values(aws)["serviceMonitor"]["enabled"] is False


def test_server_admits_prometheus_and_granted_clients_only(kind: RenderCapture) -> None:
    policy = by_name(kind)["registry-network-policy"].inputs
    port = [{"protocol": "TCP", "port": MLFLOW_PORT}]
    assert policy["spec"] == {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [pods_of("monitoring", {"app.kubernetes.io/name": "prometheus"})],
                "ports": port,
            },
            {
                "from": [pods_of("mlops", {"mlops-blueprints.io/identity": "trainer"})],
                "ports": port,
            },
        ],
    }


def test_grants_open_egress_and_artifact_access(kind: RenderCapture, aws: RenderCapture) -> None:
    assert_client_egress(
        by_name(kind)["registry-trainer-egress"],
        name="trainer-to-mlflow",
        namespace="mlops",
        identity="trainer",
        to=[pods_of("mlops", SELECTOR)],
        port=MLFLOW_PORT,
    )
    # On aws the read grant is an IAM policy scoped to the prefix.
    read = by_name(aws)["models-read-serving-mlflow"]
    assert "acme-models/mlflow/*" in read.inputs["policy"]


def test_outputs(kind: RenderCapture) -> None:
    outputs = kind.outputs[by_name(kind)["registry"].urn]
    assert outputs["tracking_uri"] == "http://mlflow.mlops.svc.cluster.local:5000"
    assert outputs["artifact_root"] == "s3://acme-models/mlflow/"


# --- bad inputs -----------------------------------------------------------------------------


def _args_program(**overrides: Any) -> Any:
    def program() -> ModelRegistryArgs:
        identity = StaticCredentialsIdentity(
            "tracking",
            StaticCredentialsIdentityArgs(namespace="mlops", service_account_name="mlflow"),
        )
        database = InClusterPostgres(
            "db", InClusterPostgresArgs(namespace="mlops", allowed_namespaces=["mlops"])
        )
        store = SeaweedfsServer("lake", SeaweedfsServerArgs(namespace="mlops"))
        bucket = store.bucket("models", ObjectStoreArgs(bucket_name="acme-models", purpose="m"))
        fields: dict[str, Any] = {
            "namespace": "mlops",
            "identity": identity,
            "database": database,
            "artifact_store": bucket,
        }
        fields.update(overrides)
        return ModelRegistryArgs(**fields)

    return program


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("namespace", "Bad_NS", "lowercase"),
        ("artifact_prefix", "mlflow", "End the prefix with '/'"),
        ("artifact_prefix", "", "own prefix"),
        ("artifact_prefix", "/abs/", "relative key prefix"),
        ("service_name", "ML", "lowercase"),
        ("replicas", 0, "between 1 and 10"),
        ("replicas", 11, "between 1 and 10"),
        ("cpu_request", "lots", "positive CPU quantity"),
        ("cpu_limit", "100m", "at or above the request"),
        ("memory_request_mib", 8, "at least 16 MiB"),
        ("memory_limit_mib", 512, "at or above the request"),
        ("prometheus_namespace", "Mon", "lowercase"),
        ("service_monitor_labels", {}, "selects ServiceMonitors"),
    ],
)
def test_bad_values_are_refused(field: str, value: object, fix: str) -> None:
    program = _args_program(**{field: value})
    raises(lambda: run_program(program, project="p", stack="s", config={}), field, value, fix)


@pytest.mark.parametrize(
    ("field", "fix"),
    [
        ("identity", "workload identity"),
        ("database", "SQL database"),
        ("artifact_store", "object store"),
    ],
)
def test_wrong_kinds_of_dependency_are_refused(field: str, fix: str) -> None:
    program = _args_program(**{field: "not-a-resource"})
    raises(lambda: run_program(program, project="p", stack="s", config={}), field, "str", fix)


def test_an_identity_the_database_never_granted_is_refused() -> None:
    def program() -> None:
        args = _args_program()()  # the identity has no grant on the database
        ModelRegistry("registry", args)

    raises(
        lambda: run_program(program, project="p", stack="s", config={}),
        "identity",
        "mlflow",
        "grant_connect(identity)",
    )


# --- the IAM token hook -----------------------------------------------------------------------


class _StopConnectError(Exception):
    """Raised by the recording listener so no real connection is attempted."""


def test_iam_hook_signs_a_fresh_token_for_every_new_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hook is installed exactly as on the server and driven by a real SQLAlchemy engine.

    Token signing is local (SigV4 presigning with botocore), so dummy keys suffice.
    """
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("PGHOST", "acme-db.abc.eu-west-1.rds.amazonaws.com")
    monkeypatch.setenv("PGPORT", "5432")
    monkeypatch.setenv("PGUSER", "mlflow")
    seen: list[dict[str, Any]] = []

    def record(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        seen.append(dict(cparams))
        raise _StopConnectError

    listener = _sitecustomize.install("eu-west-1")
    engine = create_engine("postgresql+psycopg2://")
    event.listen(engine, "do_connect", record)
    try:
        for _ in range(2):
            with pytest.raises(_StopConnectError):
                engine.connect()
    finally:
        event.remove(Engine, "do_connect", listener)
        engine.dispose()
    assert len(seen) == 2
    for params in seen:
        token = params["password"]
        assert token.startswith("acme-db.abc.eu-west-1.rds.amazonaws.com:5432/?")
        assert "Action=connect" in token
        assert "DBUser=mlflow" in token
        assert "X-Amz-Signature=" in token
        assert "eu-west-1%2Frds-db%2Faws4_request" in token


def test_iam_hook_is_inert_unless_switched_on() -> None:
    source = sitecustomize_source()
    assert 'if os.environ.get(ENABLE_VARIABLE, "").lower() == "true":' in source
    assert "MLOPS_RDS_IAM_AUTH" in source
