"""Container hygiene on every workload kind: sized resources and pinned images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from mlops_blueprints.policies._rule import ResourceValidate, Rule
from pulumi_policy import ResourceValidationArgs

from .._rule import Report
from ._mapping import KUBERNETES_TAG, controls
from ._workloads import WORKLOAD_TYPES, Container, PodSpec, pod_specs

__all__ = ["CONTAINER_RULES", "image_pin_problem"]

_REQUIRED_RESOURCES: Final[tuple[tuple[str, str], ...]] = (
    ("requests", "cpu"),
    ("requests", "memory"),
    ("limits", "memory"),
)


def _workload_validate(check: Callable[[PodSpec], list[str]]) -> ResourceValidate:
    def validate(args: ResourceValidationArgs, report: Report) -> None:
        findings = []
        for pod in pod_specs(args.resource_type, args.props):
            problems = check(pod)
            if problems:
                findings.append(f"{pod.where}: " + "; ".join(problems))
        if findings:
            report(" | ".join(findings), None)

    return validate


def _missing_resources(container: Container) -> list[str]:
    missing = []
    for section, name in _REQUIRED_RESOURCES:
        value = container.get("resources", section, name)
        if value is None and container.from_runtime:
            continue  # the ServingRuntime's container supplies it
        if value is None or value == "":
            missing.append(f"{section}.{name}")
    return missing


def _resources(pod: PodSpec) -> list[str]:
    problems = []
    for container in pod.containers:
        if container.kind == "ephemeralContainer":
            continue  # debug containers cannot declare resources
        missing = _missing_resources(container)
        if missing:
            problems.append(f"container {container.label} sets no {', '.join(missing)}")
    return problems


def image_pin_problem(image: Any) -> str:
    """Why ``image`` is not pinned (``""`` when it names a digest or an explicit tag).

    ``repo@sha256:...`` is pinned whatever its tag; otherwise the last path segment must carry
    a tag (a ``:`` after the last ``/``, so a registry port is not mistaken for one) other
    than ``latest``.
    """
    if not isinstance(image, str) or not image.strip():
        return "names no image"
    name, at, digest = image.partition("@")
    if at:
        pinned = digest.startswith("sha256:") and len(digest) > len("sha256:")
        return "" if pinned else f"image {image!r} has a malformed digest"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (it resolves to latest)"
    tag = last.rsplit(":", 1)[1]
    if not tag:
        return f"image {image!r} has an empty tag"
    if tag.lower() == "latest":
        return f"image {image!r} uses the mutable latest tag"
    return ""


def _images(pod: PodSpec) -> list[str]:
    problems = []
    for container in pod.containers:
        image = container.get("image")
        if image is None and container.from_runtime:
            continue  # the ServingRuntime's container supplies it
        problem = image_pin_problem(image)
        if problem:
            problems.append(f"container {container.label} {problem}")
    return problems


CONTAINER_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="k8s-containers-request-resources-and-limit-memory",
        description=(
            "Every container requests CPU and memory and sets a memory limit; CPU limits are "
            "deliberately not required, because the platform leaves them off so that "
            "latency-sensitive serving and training pods are not throttled below their request."
        ),
        remediation=(
            "Set resources.requests.cpu, resources.requests.memory and resources.limits.memory "
            "on each container (and init container); components size them from their "
            "cpu_request, memory_request_mib and memory_limit_mib arguments."
        ),
        severity="medium",
        controls=controls(
            nist=("SC-5", "SC-6"), hipaa=(), gdpr=("Art. 32",), dpdp=(), eu_ai_act=("Art. 15",)
        ),
        resource_types=WORKLOAD_TYPES,
        validate_resource=_workload_validate(_resources),
        tags=(KUBERNETES_TAG, "resources"),
    ),
    Rule(
        name="k8s-container-images-pinned",
        description=(
            "Every container image is pinned by a digest or an explicit tag, never untagged "
            "and never latest, so a deploy runs exactly the image that was reviewed."
        ),
        remediation=(
            "Reference images as repository:tag (or repository@sha256:digest); take the "
            "platform's pins from versions.IMAGES and set model images to an immutable tag."
        ),
        severity="medium",
        controls=controls(
            nist=("CM-2", "SI-7", "SR-11"),
            hipaa=("164.312(c)(1)",),
            gdpr=("Art. 32",),
            dpdp=("Sec. 8(5)",),
            eu_ai_act=("Art. 15",),
        ),
        resource_types=WORKLOAD_TYPES,
        validate_resource=_workload_validate(_images),
        tags=(KUBERNETES_TAG, "supply-chain"),
    ),
)
