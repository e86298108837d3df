"""Check built-in Kubernetes objects against the OpenAPI schemas kubernetes-validate ships.

The schemas and the version rule are kubernetes-validate's (the ``-strict`` schema set, which
rejects unknown fields like ``kubectl --validate=strict``; a requested minor uses the newest
bundled schema set not newer than it). ``kubernetes_validate.validate`` itself re-reads the
5 MB definitions file on every call (~10 ms per object and version) and stops at the first
error, so this module loads each schema set once, builds each validator once, and reports every
error of an object.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from typing import Any

import jsonschema
import kubernetes_validate
import referencing
from referencing.jsonschema import DRAFT202012

from mlops_blueprints.check._findings import Finding, findings_from_errors
from mlops_blueprints.check._rendered import Manifest, strip_nulls
from mlops_blueprints.errors import UsageError

__all__ = [
    "BUILTIN_GROUPS",
    "CLUSTER_SCOPED_BUILTIN_KINDS",
    "check_builtin_objects",
    "is_builtin_group",
    "resolve_schema_version",
]

# API groups served by the Kubernetes API server itself; anything else is a custom resource.
BUILTIN_GROUPS: frozenset[str] = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "extensions",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)

# Built-in kinds without a namespace, by (group, kind). Everything else built-in is namespaced.
CLUSTER_SCOPED_BUILTIN_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "ComponentStatus"),
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("authentication.k8s.io", "SelfSubjectReview"),
        ("authentication.k8s.io", "TokenReview"),
        ("authorization.k8s.io", "SelfSubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectRulesReview"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("internal.apiserver.k8s.io", "StorageVersion"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("node.k8s.io", "RuntimeClass"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "DeviceTaintRule"),
        ("resource.k8s.io", "ResourceSlice"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("storagemigration.k8s.io", "StorageVersionMigration"),
    }
)

_SCHEMA_ROOT = "kubernetes-json-schema"
_VERSION_DIR = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-local-strict$")
_DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"


def is_builtin_group(group: str) -> bool:
    return group in BUILTIN_GROUPS


def _schema_sets() -> Traversable:
    return resources.files(kubernetes_validate).joinpath(_SCHEMA_ROOT)


@functools.cache
def _available_minors() -> tuple[tuple[int, int], ...]:
    minors = {
        (int(match.group(1)), int(match.group(2)))
        for entry in _schema_sets().iterdir()
        if (match := _VERSION_DIR.match(entry.name))
    }
    return tuple(sorted(minors))


def _parse_minor(version: str) -> tuple[int, int]:
    match = re.match(r"^v?(\d+)\.(\d+)", version.strip())
    if not match:
        raise UsageError(f"Kubernetes version {version!r} is not MAJOR.MINOR: pass e.g. 1.35")
    return int(match.group(1)), int(match.group(2))


def resolve_schema_version(version: str) -> str:
    """The bundled schema set used for ``version``: the newest one not newer than it."""
    wanted = _parse_minor(version)
    available = _available_minors()
    usable = [minor for minor in available if minor <= wanted]
    if not available or wanted > available[-1] or not usable:
        supported = ", ".join(f"{major}.{minor}" for major, minor in available)
        raise UsageError(
            f"Kubernetes {version} is not covered by kubernetes-validate "
            f"{kubernetes_validate.__version__} (schemas for {supported}): pass one of those "
            "or upgrade kubernetes-validate"
        )
    major, minor = usable[-1]
    return f"{major}.{minor}"


def _schema_dir(schema_version: str) -> Traversable:
    return _schema_sets().joinpath(f"v{schema_version}.0-local-strict")


@functools.cache
def _registry(schema_version: str) -> referencing.Registry[Any]:
    definitions = json.loads(
        _schema_dir(schema_version).joinpath("_definitions.json").read_text(encoding="utf-8")
    )
    resource: referencing.Resource[Any] = referencing.Resource.from_contents(
        definitions, default_specification=DRAFT202012
    )
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        _DEFINITIONS_URI, resource
    )
    return registry


def _schema_file_name(group: str, version: str, kind: str) -> str:
    # kubernetes-validate names files kind-<first label of the group>-version.json.
    group_label = group.split(".", 1)[0]
    return (
        f"{kind.lower()}-{group_label}-{version}.json"
        if group
        else f"{kind.lower()}-{version}.json"
    )


@functools.cache
def _validator(
    schema_version: str, group: str, version: str, kind: str
) -> jsonschema.protocols.Validator | None:
    path = _schema_dir(schema_version).joinpath(_schema_file_name(group, version, kind))
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    # Files also exist for sub-structures (e.g. DeploymentSpec); only top-level kinds declare
    # their group/version/kind, and the file name alone cannot tell groups apart.
    declared = schema.get("x-kubernetes-group-version-kind") or []
    if not any(
        gvk.get("group", "") == group and gvk.get("version") == version and gvk.get("kind") == kind
        for gvk in declared
    ):
        return None
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(
        schema, registry=_registry(schema_version)
    )
    return validator


@dataclass(frozen=True)
class _VersionedProblem:
    field: str
    message: str


def check_builtin_objects(
    manifests: Iterable[Manifest], *, kubernetes_versions: Sequence[str]
) -> tuple[list[Finding], int]:
    """Validate every built-in object against each Kubernetes version; (findings, examined)."""
    schema_versions = {version: resolve_schema_version(version) for version in kubernetes_versions}
    findings: list[Finding] = []
    examined = 0
    for manifest in manifests:
        if not is_builtin_group(manifest.group):
            continue
        examined += 1
        body = strip_nulls(dict(manifest.body))
        # Collect per version, then merge so a problem in every version is reported once.
        by_problem: dict[_VersionedProblem, list[str]] = {}
        not_served: list[str] = []
        for requested, schema_version in schema_versions.items():
            validator = _validator(schema_version, manifest.group, manifest.version, manifest.kind)
            if validator is None:
                not_served.append(requested)
                continue
            for finding in findings_from_errors(
                validator.iter_errors(body),
                check="kubernetes",
                object_name=manifest.label,
                file=manifest.file,
            ):
                key = _VersionedProblem(finding.field, finding.message)
                by_problem.setdefault(key, []).append(requested)
        if not_served:
            findings.append(
                Finding(
                    "kubernetes",
                    "error",
                    manifest.label,
                    "apiVersion",
                    f"{manifest.api_version} {manifest.kind} is not a Kubernetes "
                    f"{', '.join(not_served)} API (kubernetes-validate has no schema for it): "
                    "use an apiVersion that Kubernetes version serves",
                    manifest.file,
                )
            )
        for problem, versions in by_problem.items():
            message = problem.message
            if len(versions) < len(schema_versions):
                message += f" (Kubernetes {', '.join(versions)})"
            findings.append(
                Finding(
                    "kubernetes", "error", manifest.label, problem.field, message, manifest.file
                )
            )
    return findings, examined
