"""Pure planning for Kubeflow Pipelines: upstream URLs, the pipeline root, launcher settings."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import validate_prefix
from mlops_blueprints.versions import KFP_VERSION

__all__ = [
    "DEFAULT_REGION",
    "KFP_NAMESPACE",
    "KFP_REPOSITORY",
    "RUNNER_ROLE",
    "compile_probe_pipeline",
    "compiled_pipeline_root",
    "launcher_config",
    "pipeline_root",
    "upstream_kustomize_url",
    "validate_namespace",
    "validate_pipeline_root_prefix",
    "verify_pipeline_root",
]

KFP_REPOSITORY = "https://github.com/kubeflow/pipelines"
# The upstream manifests hard-code this namespace in cluster-scoped objects (the Namespace
# itself and the subjects of ClusterRoleBindings), so it cannot be changed by a kustomize
# namespace transform alone.
KFP_NAMESPACE = "kubeflow"
# The namespaced Role the upstream install grants the pipeline-runner service account.
RUNNER_ROLE = "pipeline-runner"
# Region the launcher signs requests for when the store is not AWS S3 (any S3-compatible
# server accepts it).
DEFAULT_REGION = "us-east-1"

_AWS_S3_HOST = re.compile(r"^s3[.-](?P<region>[a-z0-9-]+)\.amazonaws\.com$")


def upstream_kustomize_url(path: str, *, version: str = KFP_VERSION) -> str:
    """The remote kustomization ``path`` of kubeflow/pipelines at the pinned tag."""
    return f"{KFP_REPOSITORY}/{path.strip('/')}?ref={version}"


def validate_namespace(value: str) -> str:
    if value != KFP_NAMESPACE:
        raise BlueprintConfigError(
            "namespace",
            value,
            f"Use {KFP_NAMESPACE!r}: the upstream standalone manifests bind their cluster-wide "
            "roles to service accounts in that namespace, so another one would install an "
            "API server without its permissions.",
        )
    return value


def validate_pipeline_root_prefix(value: str) -> str:
    validate_prefix(value, field="pipeline_root_prefix")
    if not value:
        raise BlueprintConfigError(
            "pipeline_root_prefix",
            value,
            "Give pipeline artifacts their own prefix, such as 'pipelines/', so the runner's "
            "grant does not cover the whole bucket.",
        )
    return value


def pipeline_root(bucket_name: str, prefix: str) -> str:
    """``s3://<bucket>/<prefix>`` without the trailing slash (the form KFP prints)."""
    return f"s3://{bucket_name}/{prefix.rstrip('/')}"


def launcher_config(
    *,
    bucket_name: str,
    prefix: str,
    endpoint_url: str,
    credentials_secret_name: str | None,
) -> dict[str, str]:
    """The ``kfp-launcher`` ConfigMap data: default pipeline root and the s3 provider.

    With ``credentials_secret_name`` the driver hands the launcher the key pair from that
    Secret (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``); without it the launcher uses the
    AWS SDK's default chain, which picks up IRSA's web-identity token.
    """
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint_url must be an http(s) URL, got {endpoint_url!r}")
    aws = _AWS_S3_HOST.match(parts.hostname)
    credentials: dict[str, Any]
    if credentials_secret_name:
        credentials = {
            "fromEnv": False,
            "secretRef": {
                "secretName": credentials_secret_name,
                "accessKeyKey": "AWS_ACCESS_KEY_ID",
                "secretKeyKey": "AWS_SECRET_ACCESS_KEY",
            },
        }
    else:
        credentials = {"fromEnv": True}
    default = {
        "endpoint": parts.netloc,
        "region": aws.group("region") if aws else DEFAULT_REGION,
        "disableSSL": parts.scheme == "http",
        # S3-compatible servers in the cluster have no per-bucket DNS names.
        "forcePathStyle": aws is None,
        "credentials": credentials,
    }
    providers = {"s3": {"default": default}}
    return {
        "defaultPipelineRoot": pipeline_root(bucket_name, prefix),
        "providers": yaml.safe_dump(providers, sort_keys=True),
    }


def compile_probe_pipeline(root: str) -> str:
    """Compile a one-step KFP v2 pipeline whose pipeline root is ``root``; return its YAML."""
    from kfp import compiler, dsl  # type: ignore[import-untyped]  # noqa: PLC0415  (heavy; only here)

    @dsl.component(base_image="python:3.12-slim", install_kfp_package=False)
    # No annotations here: under postponed evaluation kfp reads them as artifact type names.
    def probe():  # type: ignore[no-untyped-def]
        print("ok")

    @dsl.pipeline(name="pipeline-root-probe", pipeline_root=root)
    def probe_pipeline():  # type: ignore[no-untyped-def]
        probe()

    with tempfile.TemporaryDirectory() as folder:
        package = Path(folder) / "probe.yaml"
        compiler.Compiler().compile(probe_pipeline, str(package))
        return package.read_text()


def compiled_pipeline_root(compiled_yaml: str) -> str | None:
    """The ``defaultPipelineRoot`` a compiled pipeline package carries, if any."""
    for document in yaml.safe_load_all(compiled_yaml):
        if isinstance(document, dict) and "pipelineInfo" in document:
            root = document.get("defaultPipelineRoot")
            return str(root) if root is not None else None
    return None


def verify_pipeline_root(expected_root: str) -> str:
    """Compile a probe pipeline for ``expected_root`` and prove the package carries it.

    Returns the compiled YAML; raises ``ValueError`` when the compiler dropped or changed
    the root (the package would then fall back to the cluster's ``kfp-launcher`` default).
    """
    compiled = compile_probe_pipeline(expected_root)
    found = compiled_pipeline_root(compiled)
    if found != expected_root:
        raise ValueError(f"compiled pipeline root is {found!r}, expected {expected_root!r}")
    return compiled
