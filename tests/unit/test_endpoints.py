"""Endpoints configured on a level stack: rendered, checked, and refused early when wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlops_blueprints.blueprints._spec import CONFIG_NAMESPACE

from mlops_blueprints.check import run_checks
from mlops_blueprints.errors import BlueprintConfigError
from tests.conftest import RenderFn
from tests.unit._config import config_error

pytestmark = pytest.mark.unit

_STORAGE = "s3://mlops-dev-lake-artifacts/mlflow/1/models/m-1/artifacts"


def _endpoints_set(*endpoints: dict[str, Any]) -> str:
    return "endpoints=" + json.dumps(list(endpoints))


def _isvcs(result: Any) -> dict[str, Any]:
    return {
        r.inputs["metadata"]["name"]: r
        for r in result.capture.registrations
        if r.type == "kubernetes:serving.kserve.io/v1beta1:InferenceService"
    }


def test_level2_kind_serves_a_configured_model_and_the_render_checks_clean(
    render_level: RenderFn, upstream: Path
) -> None:
    result = render_level(
        2,
        "kind",
        (
            _endpoints_set(
                {"name": "churn", "modelUri": "models:/churn@champion", "storageUri": _STORAGE}
            ),
        ),
    )
    isvcs = _isvcs(result)
    assert list(isvcs) == ["churn"]
    isvc = isvcs["churn"]
    assert isvc.parent.endswith("mlops:serving:InferenceEndpoint::endpoint-churn")
    predictor = isvc.inputs["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == _STORAGE
    assert predictor["model"]["runtime"] == "kserve-sklearn"
    assert predictor["serviceAccountName"] == "model-serving"
    assert predictor["labels"]["mlops-blueprints.io/model"] == "churn"
    assert predictor["nodeSelector"] == {
        "mlops-blueprints.io/node-pool": "general",
        "mlops-blueprints.io/hardware-class": "cpu",
    }
    assert "tolerations" not in predictor
    assert "nvidia.com/gpu" not in json.dumps(predictor["model"]["resources"])
    assert isvc.inputs["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert result.capture.stack_outputs["endpoint_urls"] == {
        "churn": "http://churn-predictor.mlops.svc.cluster.local"
    }
    _assert_checks_clean(result, upstream)


def _assert_checks_clean(result: Any, upstream: Path) -> None:
    report = run_checks(Path(result.files.out_dir), upstream=upstream)
    assert report.ok, [f"{f.object}: {f.field}: {f.message}" for f in report.findings]


def test_level3_aws_gpu_endpoint_tolerates_and_requests_the_gpu(
    render_level: RenderFn, upstream: Path
) -> None:
    result = render_level(
        3,
        "aws",
        (
            _endpoints_set(
                {"name": "churn", "modelUri": "models:/churn@champion", "storageUri": _STORAGE},
                {
                    "name": "ranker",
                    "modelUri": "models:/ranker/4",
                    "storageUri": _STORAGE,
                    "runtime": "xgboost",
                    "hardwareClass": "nvidia-gpu",
                    "minReplicas": 2,
                    "maxReplicas": 2,
                },
            ),
        ),
    )
    isvcs = _isvcs(result)
    assert sorted(isvcs) == ["churn", "ranker"]
    gpu = isvcs["ranker"].inputs["spec"]["predictor"]
    assert gpu["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert gpu["model"]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["nodeSelector"]["mlops-blueprints.io/node-pool"] == "gpu"
    assert (gpu["minReplicas"], gpu["maxReplicas"]) == (2, 2)
    cpu = isvcs["churn"].inputs["spec"]["predictor"]
    assert "nvidia.com/gpu" not in json.dumps(cpu)
    _assert_checks_clean(result, upstream)


def _fails_before_registering(
    level: int, target: str, endpoints: list[dict[str, Any]]
) -> BlueprintConfigError:
    return config_error(level, target, endpoints=endpoints)


_CHURN = {"name": "churn", "modelUri": "models:/churn@champion", "storageUri": _STORAGE}


@pytest.mark.parametrize(
    ("level", "target", "override", "field", "value", "fix"),
    [
        (2, "kind", {"canaryTrafficPercent": 120}, "canaryTrafficPercent", 120, "0 to 100"),
        (2, "kind", {"canaryTrafficPercent": 10}, "canaryTrafficPercent", 10, "Serverless"),
        (2, "kind", {"hardwareClass": "nvidia-gpu"}, "hardwareClass", "nvidia-gpu", "kind"),
        (2, "kind", {"modelUri": "models:/churn"}, "modelUri", "models:/churn", "@champion"),
        (2, "kind", {"minReplicas": 4, "maxReplicas": 2}, "minReplicas", 4, "max_replicas"),
        (2, "kind", {"minReplicas": 0}, "minReplicas", 0, "Serverless"),
        (2, "kind", {"storageUri": None}, "storageUri", None, "trackingUri"),
        (2, "kind", {"storageUri": "gs://x/y"}, "storageUri", "gs://x/y", "s3://"),
        (2, "kind", {"name": "Churn"}, "name", "Churn", None),
        (2, "kind", {"memoryLimitMib": 100}, "memoryLimitMib", 100, "request"),
    ],
)
def test_bad_endpoint_settings_fail_before_any_resource(  # noqa: PLR0917 - one row per case
    level: int,
    target: str,
    override: dict[str, Any],
    field: str,
    value: object,
    fix: str | None,
) -> None:
    endpoint = {k: v for k, v in ({**_CHURN, **override}).items() if v is not None}
    error = _fails_before_registering(level, target, [endpoint])
    assert error.field == f"{CONFIG_NAMESPACE}:endpoints[0].{field}"
    assert error.value == value
    if fix is not None:
        assert fix in error.fix


def test_neuron_endpoint_on_aws_level2_fails_because_neuron_pools_start_at_level3() -> None:
    error = _fails_before_registering(2, "aws", [{**_CHURN, "hardwareClass": "neuron"}])
    assert error.field == f"{CONFIG_NAMESPACE}:endpoints[0].hardwareClass"
    assert "No node pool provides neuron" in error.fix


def test_endpoints_on_level1_are_refused() -> None:
    error = _fails_before_registering(1, "kind", [_CHURN])
    assert error.field == f"{CONFIG_NAMESPACE}:endpoints"
    assert "Level 2" in error.fix


def test_duplicate_endpoint_names_are_refused() -> None:
    error = _fails_before_registering(2, "kind", [_CHURN, _CHURN])
    assert error.field == f"{CONFIG_NAMESPACE}:endpoints[1].name"
    assert "its own name" in error.fix


def test_unknown_endpoint_key_names_the_list_index() -> None:
    error = _fails_before_registering(2, "kind", [{**_CHURN, "canary": 5}])
    assert error.field == f"{CONFIG_NAMESPACE}:endpoints[0].canary"
    assert "Remove this unknown setting" in error.fix
