"""A real deploy of Level 1 to a kind cluster with the Pulumi Automation API.

Needs the ``kind`` and ``pulumi`` CLIs and a reachable Docker engine; skips (saying which is
missing) otherwise. By default the test creates a throwaway cluster with the pinned node image
and deletes it afterwards; set ``MLOPS_BP_KIND_CLUSTER`` to the name of an existing kind cluster
to deploy there instead (it is left running). State lives in a file backend under the test's
temporary directory and the cluster's kubeconfig is written there too (``~/.kube/config`` is
left alone); provider plugins go to the usual Pulumi plugin cache.
"""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pulumi.automation as auto
import pytest
from mlops_blueprints.blueprints import CONFIG_NAMESPACE

from mlops_blueprints.versions import KIND_NODE_IMAGE
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.kind, pytest.mark.slow]

CLUSTER_ENV = "MLOPS_BP_KIND_CLUSTER"
STACK = "kind"
ZONES = ("raw", "curated", "artifacts")
PLATFORM_NAMESPACE = "mlops"
STORAGE_NAMESPACE = "mlops-storage"
LEVEL1 = REPO_ROOT / "stacks" / "level1"


def _run(args: Sequence[str], *, timeout: float = 600, check: bool = True) -> str:
    completed = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {completed.returncode}\n{completed.stdout}\n"
            f"{completed.stderr}"
        )
    return completed.stdout


def _missing_prerequisite() -> str | None:
    missing = [tool for tool in ("kind", "docker", "pulumi") if shutil.which(tool) is None]
    if missing:
        return (
            f"a kind deploy needs kind, docker and the pulumi CLI; not found: {', '.join(missing)}"
        )
    try:
        info = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer `docker info` within 30 s"
    if info.returncode != 0:
        detail = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"the Docker engine is not reachable (`docker info` failed: {detail})"
    return None


@dataclass(frozen=True)
class Cluster:
    name: str
    kubeconfig: Path

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    def kubectl(self, *args: str, check: bool = True, timeout: float = 300) -> str:
        # kubectl from inside the control-plane node, so the host needs no kubectl.
        return _run(
            [
                "docker",
                "exec",
                "-i",
                f"{self.name}-control-plane",
                "kubectl",
                "--kubeconfig",
                "/etc/kubernetes/admin.conf",
                *args,
            ],
            check=check,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    kubeconfig = tmp_path_factory.mktemp("kind") / "kubeconfig"
    existing = os.environ.get(CLUSTER_ENV)
    if existing:
        kubeconfig.write_text(_run(["kind", "get", "kubeconfig", "--name", existing]))
        yield Cluster(existing, kubeconfig)
        return
    name = f"mlops-bp-test-{uuid.uuid4().hex[:8]}"
    _run(
        [
            *("kind", "create", "cluster", "--name", name, "--image", KIND_NODE_IMAGE),
            *("--kubeconfig", str(kubeconfig), "--wait", "180s"),
        ],
        timeout=600,
    )
    try:
        yield Cluster(name, kubeconfig)
    finally:
        _run(["kind", "delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig)])


def _level1_program() -> None:
    """The checkout's Level 1 stack program, exactly as ``pulumi up`` would run it."""
    runpy.run_path(str(LEVEL1 / "__main__.py"), run_name="__main__")


def _workspace_dir(tmp_path: Path) -> Path:
    """A work dir holding Level 1's kind stack config (read by the workspace as stack settings)."""
    work_dir = tmp_path / "level1"
    work_dir.mkdir()
    shutil.copy(LEVEL1 / f"Pulumi.{STACK}.yaml", work_dir / f"Pulumi.{STACK}.yaml")
    return work_dir


def _wait_until_gone(cluster: Cluster, *args: str, timeout: float = 180) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = cluster.kubectl("get", *args, "--ignore-not-found", "-o", "name", check=False)
        if not out.strip():
            return True
        time.sleep(3)
    return False


def test_level1_deploys_to_kind_and_destroys(cluster: Cluster, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    # An inline program runs in this interpreter, so the deploy uses exactly the environment
    # under test (the checkout's Pulumi.yaml would have the CLI manage its own virtualenv).
    stack = auto.create_or_select_stack(
        stack_name=STACK,
        project_name=CONFIG_NAMESPACE,
        program=_level1_program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(_workspace_dir(tmp_path)),
            project_settings=auto.ProjectSettings(
                name=CONFIG_NAMESPACE,
                runtime="python",
                backend=auto.ProjectBackend(url=state.as_uri()),
            ),
            env_vars={
                "PULUMI_BACKEND_URL": state.as_uri(),
                "PULUMI_CONFIG_PASSPHRASE": "kind-deploy-test",
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "DO_NOT_TRACK": "true",
            },
        ),
    )
    # Inline programs report no plugin requirements: install the providers the SDKs pin.
    for plugin, package in (("kubernetes", "pulumi-kubernetes"), ("random", "pulumi-random")):
        stack.workspace.install_plugin(plugin, f"v{metadata.version(package)}")
    stack.set_config("kind.context", auto.ConfigValue(cluster.context), path=True)
    stack.set_config(
        "kind.kubeconfig", auto.ConfigValue(cluster.kubeconfig.read_text(), secret=True), path=True
    )
    log: list[str] = []
    try:
        up = stack.up(on_output=log.append, color="never")
        assert up.summary.result == "succeeded", "\n".join(log[-50:])
        outputs = {key: item.value for key, item in up.outputs.items()}
        assert outputs["level"] == 1
        assert outputs["target"] == "kind"
        assert outputs["namespace"] == PLATFORM_NAMESPACE
        buckets = {zone: f"mlops-dev-lake-{zone}" for zone in ZONES}
        for zone, bucket in buckets.items():
            assert outputs[f"data_lake_{zone}"] == f"s3://{bucket}"

        # The namespace exists with the restricted Pod Security profile enforced.
        enforce = cluster.kubectl(
            "get",
            "namespace",
            PLATFORM_NAMESPACE,
            "-o",
            "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}",
        )
        assert enforce == "restricted"
        # Each bucket's creation Job completed, and the store lists every bucket.
        for bucket in buckets.values():
            cluster.kubectl(
                "wait",
                "--namespace",
                STORAGE_NAMESPACE,
                "--for=condition=complete",
                f"job/create-bucket-{bucket}",
                "--timeout=300s",
                timeout=330,
            )
        listing = cluster.kubectl(
            "exec",
            "--namespace",
            STORAGE_NAMESPACE,
            "statefulset/object-store",
            "--",
            "sh",
            "-c",
            "echo s3.bucket.list | weed shell -master=localhost:9333 -filer=localhost:8888",
        )
        for bucket in buckets.values():
            assert bucket in listing, listing

        # Running the program again plans no change: the program is deterministic.
        again = stack.preview(color="never")
        changed = {k: v for k, v in again.change_summary.items() if k != "same"}
        assert changed == {}, again.change_summary
    finally:
        destroyed = stack.destroy(on_output=log.append, color="never")
    assert destroyed.summary.result == "succeeded", "\n".join(log[-50:])
    assert _wait_until_gone(cluster, "namespace", PLATFORM_NAMESPACE)
    assert _wait_until_gone(cluster, "namespace", STORAGE_NAMESPACE)
    stack.workspace.remove_stack(STACK)
    assert STACK not in {s.name for s in stack.workspace.list_stacks()}
