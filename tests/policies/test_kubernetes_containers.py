"""Container hygiene: requests and a memory limit on every container, images pinned."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.policies.kubernetes import RULES, image_pin_problem

from ._helpers import assert_complies, assert_violates
from ._kubernetes import (
    DEPLOYMENT,
    INFERENCE_SERVICE,
    SERVING_RUNTIME,
    TEMPLATED_KINDS,
    container,
    pod_spec,
    workload,
)

pytestmark = pytest.mark.policy

RULE = {rule.name: rule for rule in RULES}
RESOURCES = RULE["k8s-containers-request-resources-and-limit-memory"]
IMAGES = RULE["k8s-container-images-pinned"]


def test_cpu_limits_are_not_required_and_the_description_says_why() -> None:
    assert "CPU limits are deliberately not required" in RESOURCES.description
    assert "throttled" in RESOURCES.description
    assert_complies(RESOURCES, workload(DEPLOYMENT))


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_sized_containers_comply_on_every_kind(kind: str) -> None:
    assert_complies(RESOURCES, workload(kind))


@pytest.mark.parametrize(
    ("resources", "missing"),
    [
        ({"requests": {"memory": "128Mi"}, "limits": {"memory": "256Mi"}}, "requests.cpu"),
        ({"requests": {"cpu": "100m"}, "limits": {"memory": "256Mi"}}, "requests.memory"),
        ({"requests": {"cpu": "100m", "memory": "128Mi"}}, "limits.memory"),
        (
            {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1"}},
            "limits.memory",
        ),
        ({}, "requests.cpu, requests.memory, limits.memory"),
    ],
)
@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_a_missing_request_or_memory_limit_is_a_finding(
    kind: str, resources: dict[str, Any], missing: str
) -> None:
    subject = workload(kind, pod_spec(container("app", resources=resources)))
    found = assert_violates(RESOURCES, subject)
    assert f"container 'app' sets no {missing}" in found.message


def test_init_containers_need_resources_too() -> None:
    setup = container("setup")
    del setup["resources"]
    found = assert_violates(RESOURCES, workload(DEPLOYMENT, pod_spec(initContainers=[setup])))
    assert "initContainer 'setup'" in found.message


def test_numeric_quantities_count_as_set() -> None:
    # Renders record numbers as floats (cpu: 1 -> 1.0).
    sized = container(
        "app", resources={"requests": {"cpu": 1, "memory": 1e9}, "limits": {"memory": 2e9}}
    )
    assert_complies(RESOURCES, workload(DEPLOYMENT, pod_spec(sized)))


def test_a_model_container_may_leave_resources_to_its_runtime() -> None:
    predictor = pod_spec()
    del predictor["containers"]
    predictor["model"] = {"modelFormat": {"name": "sklearn"}, "runtime": "kserve-sklearn"}
    assert_complies(RESOURCES, workload(INFERENCE_SERVICE, predictor))
    assert_complies(IMAGES, workload(INFERENCE_SERVICE, predictor))
    # KServe merges the model's resources over the runtime's, key by key.
    predictor["model"]["resources"] = {"requests": {"cpu": "1"}}
    assert_complies(RESOURCES, workload(INFERENCE_SERVICE, predictor))
    predictor["model"]["resources"] = {"requests": {"cpu": ""}}
    found = assert_violates(RESOURCES, workload(INFERENCE_SERVICE, predictor))
    assert "sets no requests.cpu" in found.message


def test_a_serving_runtime_container_must_be_sized() -> None:
    bare = container("kserve-container")
    del bare["resources"]
    found = assert_violates(RESOURCES, workload(SERVING_RUNTIME, {"containers": [bare]}))
    assert "ServingRuntime mlops/app" in found.message


@pytest.mark.parametrize(
    "image",
    [
        "postgres:17.6-alpine",
        "quay.io/feastdev/feature-server:0.67.0",
        "registry.local:5000/team/app:1.2.3",
        "public.ecr.aws/neuron/neuron-monitor:1.1.0",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn@sha256:" + "a" * 64,
        "nginx:latest@sha256:" + "b" * 64,  # the digest pins it, whatever the tag says
    ],
)
def test_pinned_images_comply(image: str) -> None:
    assert image_pin_problem(image) == ""
    assert_complies(IMAGES, workload(DEPLOYMENT, pod_spec(container("app", image=image))))


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("nginx", "has no tag"),
        ("nginx:latest", "latest"),
        ("nginx:LATEST", "latest"),
        ("registry.local:5000/team/app", "has no tag"),  # the port is not a tag
        ("quay.io/org/app:", "empty tag"),
        ("app@md5:abc", "malformed digest"),
        ("app@sha256:", "malformed digest"),
        ("", "names no image"),
    ],
)
def test_unpinned_images_are_findings(image: str, why: str) -> None:
    assert why in image_pin_problem(image)
    found = assert_violates(IMAGES, workload(DEPLOYMENT, pod_spec(container("app", image=image))))
    assert f"container 'app' {image_pin_problem(image)}" in found.message


def test_a_container_without_an_image_is_a_finding() -> None:
    nameless = container("app")
    del nameless["image"]
    found = assert_violates(IMAGES, workload(DEPLOYMENT, pod_spec(nameless)))
    assert "names no image" in found.message


@pytest.mark.parametrize("kind", [*TEMPLATED_KINDS, SERVING_RUNTIME])
def test_images_are_checked_on_every_kind(kind: str) -> None:
    spec = pod_spec(container("app", image="busybox:latest"))
    if kind == SERVING_RUNTIME:
        spec = {"containers": spec["containers"]}
    assert_violates(IMAGES, workload(kind, spec))


def test_an_explicit_model_image_is_checked() -> None:
    predictor = pod_spec()
    del predictor["containers"]
    predictor["model"] = {"modelFormat": {"name": "sklearn"}, "image": "acme/churn"}
    found = assert_violates(IMAGES, workload(INFERENCE_SERVICE, predictor, name="churn"))
    assert "InferenceService mlops/churn predictor" in found.message


_NAME = st.from_regex(r"[a-z][a-z0-9]{0,8}(/[a-z][a-z0-9]{0,8}){0,2}", fullmatch=True)
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(registry=st.sampled_from(["", "registry.local:5000/", "quay.io/"]), name=_NAME, tag=_TAG)
def test_any_explicit_tag_but_latest_is_pinned(registry: str, name: str, tag: str) -> None:
    problem = image_pin_problem(f"{registry}{name}:{tag}")
    assert (problem != "") == (tag.lower() == "latest")
    assert image_pin_problem(f"{registry}{name}") != ""
