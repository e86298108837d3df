"""KServe serving: the stack (releases, runtimes) and one InferenceEndpoint per model.

Pure planning (model URIs, pool selection, scale-to-zero timeouts, the registry resolver) is
tested directly; components are rendered under mocks with `mlops-bp check` on the output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.identity import (
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs
from mlops_blueprints.components.node_pools import NodePoolSpec
from mlops_blueprints.components.serving import (
    InferenceEndpoint,
    InferenceEndpointArgs,
    ModelReference,
    ServingStack,
    ServingStackArgs,
    parse_model_uri,
    resolve_storage_uri,
    scale_to_zero_timeouts,
    select_pool,
)

from mlops_blueprints.render import RenderCapture
from mlops_blueprints.versions import IMAGES
from tests.components._helpers import by_name, children, raises, stand_in_operator

pytestmark = pytest.mark.unit

CPU = NodePoolSpec("general")
GPU = NodePoolSpec("gpu", hardware_class="nvidia-gpu")
S3_URI = "s3://acme-models/1/models/m-1/artifacts"


def _program(
    *, mode: str = "RawDeployment", monitoring: bool = True, **endpoint: Any
) -> Callable[[], None]:
    def program() -> None:
        ns = WorkloadNamespace("serving-ns", WorkloadNamespaceArgs(namespace="serving"))
        identity = StaticCredentialsIdentity(
            "serving-identity",
            StaticCredentialsIdentityArgs(
                namespace=ns.namespace_name, service_account_name="model"
            ),
        )
        stack = ServingStack(
            "serving",
            ServingStackArgs(runtime_namespace=ns.namespace_name, deployment_mode=mode),  # type: ignore[arg-type]
        )
        operator = None
        if monitoring:
            operator = stand_in_operator()
        settings: dict[str, Any] = {
            "namespace": ns.namespace_name,
            "endpoint_name": "churn",
            "model_uri": "models:/churn@champion",
            "runtime": "sklearn",
            "serving_stack": stack,
            "identity": identity,
            "node_pools": [CPU, GPU],
            "allowed_namespaces": [ns.namespace_name],
            "storage_uri": S3_URI,
            "prometheus_operator": operator,
        }
        settings.update(endpoint)
        InferenceEndpoint("churn", InferenceEndpointArgs(**settings))

    return program


def _isvc(capture: RenderCapture) -> dict[str, Any]:
    inputs: dict[str, Any] = by_name(capture)["churn-inference-service"].inputs
    return inputs


# --- pure planning -------------------------------------------------------------------------


def test_model_uri_parses_alias_and_version() -> None:
    assert parse_model_uri("models:/churn@champion") == ModelReference("churn", alias="champion")
    assert parse_model_uri("models:/churn/3") == ModelReference("churn", version=3)


@pytest.mark.parametrize(
    ("uri", "fix"),
    [
        ("models:/churn", "Name the version to serve"),
        ("s3://bucket/model", "models:/<name>@<alias>"),
        ("models:/churn/latest", "models:/<name>/<version>"),
        ("models:/churn/0", "models:/<name>/<version>"),
        ("models:/churn@", "models:/<name>@<alias>"),
    ],
)
def test_bad_model_uri_is_refused(uri: str, fix: str) -> None:
    raises(lambda: parse_model_uri(uri), "model_uri", uri, fix)


def test_pool_selection_refuses_a_class_no_pool_provides() -> None:
    assert select_pool([CPU, GPU], "nvidia-gpu") == GPU
    raises(lambda: select_pool([CPU], "nvidia-gpu"), "hardware_class", "nvidia-gpu", "cpu only")
    raises(lambda: select_pool([CPU], "cpu", pool_name="big"), "node_pool", "big", "general")
    raises(
        lambda: select_pool([CPU, GPU], "cpu", pool_name="gpu"),
        "node_pool",
        "gpu",
        "provides nvidia-gpu",
    )


@given(
    st.integers(min_value=1, max_value=3600),
    st.integers(min_value=1, max_value=3600),
    st.integers(min_value=0, max_value=1800),
)
def test_timeouts_exceed_and_grow_with_provisioning(low: int, high: int, load: int) -> None:
    low, high = sorted((low, high))
    a = scale_to_zero_timeouts(low, model_load_seconds=load)
    b = scale_to_zero_timeouts(high, model_load_seconds=load)
    for value in (
        a.scale_down_delay_seconds,
        a.progress_deadline_seconds,
        a.revision_timeout_seconds,
    ):
        assert value > low
    assert a.scale_down_delay_seconds <= b.scale_down_delay_seconds
    assert a.progress_deadline_seconds <= b.progress_deadline_seconds
    assert a.revision_timeout_seconds <= b.revision_timeout_seconds
    assert a.progress_deadline_seconds > a.cold_start_seconds


# MLflow's sqlite store uses a SQLAlchemy loader option that SQLAlchemy 2.1 deprecates.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
@pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning")
def test_resolver_reads_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(tmp_path)
    import mlflow  # noqa: PLC0415 - slow import, only this test needs it
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking)
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="churn", pip_requirements=["scikit-learn"]
        )
        mlflow.sklearn.log_model(
            model, name="model2", registered_model_name="churn", pip_requirements=["scikit-learn"]
        )
    client = mlflow.MlflowClient(tracking_uri=tracking)
    client.set_registered_model_alias("churn", "champion", "2")
    by_alias = resolve_storage_uri(ModelReference("churn", alias="champion"), tracking)
    by_version = resolve_storage_uri(ModelReference("churn", version=1), tracking)
    assert by_alias != by_version
    assert by_alias == client.get_model_version_download_uri("churn", "2")
    assert not by_alias.startswith("models:/")
    assert (Path(by_alias.removeprefix("file://")) / "MLmodel").is_file()


# --- rendered components -------------------------------------------------------------------


def test_stack_children_order_and_values(render: Callable[..., RenderCapture]) -> None:
    capture = render(_program())
    assert children(capture, "serving") == {
        "serving-cert-manager": "kubernetes:helm.sh/v3:Release",
        "serving-kserve-crd": "kubernetes:helm.sh/v3:Release",
        "serving-kserve-resources": "kubernetes:helm.sh/v3:Release",
        "serving-runtime-sklearn": "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime",
        "serving-runtime-xgboost": "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime",
    }
    found = by_name(capture)
    resources = found["serving-kserve-resources"]
    assert set(resources.dependencies) >= {
        found["serving-cert-manager"].urn,
        found["serving-kserve-crd"].urn,
    }
    assert found["serving-cert-manager"].inputs["values"]["crds"]["enabled"] is True
    controller = resources.inputs["values"]["kserve"]["controller"]
    assert controller["deploymentMode"] == "Standard"
    assert controller["gateway"] == {"disableIngressCreation": True}
    runtime = found["serving-runtime-sklearn"]
    assert found["serving-kserve-resources"].urn in runtime.dependencies
    container = runtime.inputs["spec"]["containers"][0]
    assert container["image"] == IMAGES["kserve-sklearnserver"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert (
        found["serving-runtime-xgboost"].inputs["spec"]["containers"][0]["image"]
        == IMAGES["kserve-xgbserver"]
    )


def test_cpu_endpoint_children_and_pod_identity(render: Callable[..., RenderCapture]) -> None:
    capture = render(_program())
    assert children(capture, "churn") == {
        "churn-inference-service": "kubernetes:serving.kserve.io/v1beta1:InferenceService",
        "churn-pdb": "kubernetes:policy/v1:PodDisruptionBudget",
        "churn-network-policy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "churn-service-monitor": "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    }
    found = by_name(capture)
    isvc = found["churn-inference-service"]
    assert found["serving-kserve-resources"].urn in isvc.dependencies
    assert found["serving-runtime-sklearn"].urn in isvc.dependencies
    monitor = found["churn-service-monitor"]
    assert found["prometheus"].urn in monitor.dependencies
    # Prometheus selects monitors by this label only.
    assert monitor.inputs["metadata"]["labels"]["mlops-blueprints.io/monitoring"] == "true"
    assert monitor.inputs["spec"]["selector"] == {
        "matchLabels": {"serving.kserve.io/inferenceservice": "churn"}
    }
    predictor = isvc.inputs["spec"]["predictor"]
    assert predictor["serviceAccountName"] == "model"
    assert predictor["labels"]["mlops-blueprints.io/identity"] == "model"
    assert predictor["automountServiceAccountToken"] is False
    assert predictor["nodeSelector"]["mlops-blueprints.io/hardware-class"] == "cpu"
    assert "tolerations" not in predictor
    resources = predictor["model"]["resources"]
    assert "nvidia.com/gpu" not in resources["requests"]
    assert "nvidia.com/gpu" not in resources["limits"]
    assert predictor["model"]["storageUri"] == S3_URI
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 3)
    assert predictor["scaleMetric"] == "cpu"
    assert "canaryTrafficPercent" not in predictor
    assert isvc.inputs["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert found["churn-pdb"].inputs["spec"]["maxUnavailable"] == 1


def test_gpu_endpoint_tolerates_and_requests_gpu(render: Callable[..., RenderCapture]) -> None:
    capture = render(_program(hardware_class="nvidia-gpu", accelerators=2))
    predictor = _isvc(capture)["spec"]["predictor"]
    assert predictor["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert predictor["nodeSelector"]["mlops-blueprints.io/node-pool"] == "gpu"
    resources = predictor["model"]["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == 2
    assert resources["limits"]["nvidia.com/gpu"] == 2


def test_serverless_canary_and_scale_to_zero(render: Callable[..., RenderCapture]) -> None:
    capture = render(
        _program(
            mode="Serverless",
            hardware_class="nvidia-gpu",
            min_replicas=0,
            canary_traffic_percent=10,
            autoscaling_metric="rps",
            autoscaling_target=20,
        )
    )
    isvc = _isvc(capture)
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("rps", 20)
    assert predictor["minReplicas"] == 0
    expected = scale_to_zero_timeouts(300, model_load_seconds=120)
    assert predictor["timeout"] == expected.revision_timeout_seconds
    assert predictor["annotations"] == expected.annotations()
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    policy = by_name(capture)["churn-network-policy"].inputs["spec"]["ingress"][0]["from"]
    assert any(
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "knative-serving"
        for p in policy
    )


def test_no_service_monitor_without_prometheus_operator(
    render: Callable[..., RenderCapture],
) -> None:
    capture = render(_program(monitoring=False))
    assert "churn-service-monitor" not in children(capture, "churn")


# --- bad inputs ----------------------------------------------------------------------------


def _args(**overrides: Any) -> Callable[[], object]:
    """Build the endpoint args inside a mock run so that the stack exists."""

    def call() -> object:
        mode = overrides.pop("mode", "RawDeployment")

        class _Mocks(pulumi.runtime.Mocks):
            def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:  # type: ignore[type-arg]
                return f"{args.name}-id", args.inputs

            def call(self, args: pulumi.runtime.MockCallArgs) -> dict:  # type: ignore[type-arg]
                return {}

        pulumi.runtime.set_mocks(_Mocks(), preview=False)
        try:
            stack = ServingStack(
                "s", ServingStackArgs(runtime_namespace="serving", deployment_mode=mode)
            )
            identity = StaticCredentialsIdentity(
                "i", StaticCredentialsIdentityArgs(namespace="serving", service_account_name="m")
            )
            settings: dict[str, Any] = {
                "namespace": "serving",
                "endpoint_name": "churn",
                "model_uri": "models:/churn@champion",
                "runtime": "sklearn",
                "serving_stack": stack,
                "identity": identity,
                "node_pools": [CPU],
                "allowed_namespaces": ["apps"],
                "storage_uri": S3_URI,
            }
            settings.update(overrides)
            return InferenceEndpointArgs(**settings)
        finally:
            pass

    return call


@pytest.mark.parametrize(
    ("overrides", "field", "value", "fix"),
    [
        ({"model_uri": "models:/churn"}, "model_uri", "models:/churn", "Name the version"),
        ({"hardware_class": "nvidia-gpu"}, "hardware_class", "nvidia-gpu", "No node pool"),
        ({"min_replicas": 4, "max_replicas": 2}, "min_replicas", 4, "must not exceed"),
        ({"min_replicas": 0}, "min_replicas", 0, "Serverless"),
        ({"canary_traffic_percent": 101}, "canary_traffic_percent", 101, "0 to 100"),
        ({"canary_traffic_percent": -1}, "canary_traffic_percent", -1, "0 to 100"),
        ({"canary_traffic_percent": 20}, "canary_traffic_percent", 20, "Serverless mode"),
        ({"autoscaling_metric": "concurrency"}, "autoscaling_metric", "concurrency", "cpu"),
        (
            {"mode": "Serverless", "autoscaling_metric": "cpu"},
            "autoscaling_metric",
            "cpu",
            "'concurrency' or 'rps'",
        ),
        ({"autoscaling_target": 150}, "autoscaling_target", 150, "1-100"),
        ({"runtime": "vllm"}, "runtime", "vllm", "not supported yet"),
        ({"runtime": "xgboost", "mode": "RawDeployment"}, None, None, None),
        (
            {"storage_uri": None},
            "tracking_uri",
            None,
            "resolved",
        ),
        ({"allowed_namespaces": []}, "allowed_namespaces", [], ""),
        ({"memory_limit_mib": 100}, "memory_limit_mib", 100, "at or above"),
        (
            {
                "mode": "Serverless",
                "min_replicas": 0,
                "node_pools": [NodePoolSpec("slow", provisioning_seconds=900)],
            },
            "knative_max_revision_timeout_seconds",
            600,
            "max-revision-timeout-seconds",
        ),
    ],
)
def test_bad_endpoint_input(
    overrides: dict[str, Any], field: str | None, value: object, fix: str | None
) -> None:
    if field is None:  # a valid combination, as a control that the harness can pass
        assert isinstance(_args(**overrides)(), InferenceEndpointArgs)
        return
    raises(_args(**overrides), field, value, fix or "")


def test_runtime_not_in_stack_is_refused() -> None:
    raises(_args(runtime="bentoml"), "runtime", "bentoml", "add 'bentoml' to its runtimes")


@pytest.mark.parametrize(
    ("overrides", "field", "value", "fix"),
    [
        ({"deployment_mode": "Knative"}, "deployment_mode", "Knative", "Serverless"),
        ({"runtimes": ("sklearn", "vllm")}, "runtimes[1]", "vllm", "not supported yet"),
        ({"runtimes": ()}, "runtimes", (), "at least one"),
        ({"runtimes": ("bentoml",)}, "bentoml_image", None, "pinned to a tag"),
        (
            {"runtimes": ("bentoml",), "bentoml_image": "acme/churn:latest"},
            "bentoml_image",
            "acme/churn:latest",
            "never ':latest'",
        ),
        ({"bentoml_image": "acme/churn:1.0"}, "bentoml_image", "acme/churn:1.0", "Add 'bentoml'"),
    ],
)
def test_bad_stack_input(overrides: dict[str, Any], field: str, value: object, fix: str) -> None:
    raises(lambda: ServingStackArgs(runtime_namespace="serving", **overrides), field, value, fix)


def test_bentoml_runtime_uses_the_given_image(render: Callable[..., RenderCapture]) -> None:
    def program() -> None:
        ns = WorkloadNamespace("serving-ns", WorkloadNamespaceArgs(namespace="serving"))
        ServingStack(
            "serving",
            ServingStackArgs(
                runtime_namespace=ns.namespace_name,
                runtimes=("bentoml",),
                bentoml_image="registry.example.com/mlops/churn:1.4.2",
            ),
        )

    capture = render(program)
    spec = by_name(capture)["serving-runtime-bentoml"].inputs["spec"]
    assert spec["containers"][0]["image"] == "registry.example.com/mlops/churn:1.4.2"
    assert spec["supportedModelFormats"][0]["name"] == "bentoml"
