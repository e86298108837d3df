"""Locating, verifying and fetching the pinned upstream data."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_blueprints.errors import UpstreamMissingError
from mlops_blueprints.upstream import (
    LOCK_PATH,
    UPSTREAM_ENV,
    UpstreamFetchError,
    fetch,
    locked_files,
    upstream_dir,
    verify,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch-upstream"
SAMPLE = (
    "charts/mlflow/Chart.yaml",
    "charts/kserve-crd/values.yaml",
    "crds/karpenter/karpenter.sh_nodepools.yaml",
)


@pytest.fixture
def small_lock(tmp_path: Path) -> Path:
    """A lock listing only a few files, so fetch tests stay quick."""
    data = json.loads(LOCK_PATH.read_text())
    data["files"] = [entry for entry in data["files"] if entry["path"] in SAMPLE]
    assert len(data["files"]) == len(SAMPLE)
    path = tmp_path / "small.lock.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def mirror(tmp_path: Path, upstream: Path) -> Path:
    target = tmp_path / "mirror"
    for relative in SAMPLE:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upstream / relative, target / relative)
    return target


@pytest.mark.unit
def test_unset_variable_names_the_variable_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UPSTREAM_ENV, raising=False)

    with pytest.raises(UpstreamMissingError) as caught:
        upstream_dir()

    message = str(caught.value)
    assert "MLOPS_BP_UPSTREAM_DIR is not set" in message
    assert "mlops-bp upstream fetch" in message
    assert "\n" not in message


@pytest.mark.unit
def test_missing_directory_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(UPSTREAM_ENV, str(tmp_path / "absent"))

    with pytest.raises(UpstreamMissingError, match="is not a directory"):
        upstream_dir()


@pytest.mark.unit
def test_directory_lacking_files_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(UPSTREAM_ENV, str(tmp_path))
    total = len(locked_files())

    with pytest.raises(UpstreamMissingError, match=f"lacks {total} of {total} upstream files"):
        upstream_dir()


@pytest.mark.schema
def test_configured_upstream_is_complete_and_matches_the_lock(upstream: Path) -> None:
    assert upstream_dir() == upstream
    assert verify(upstream) == []


@pytest.mark.schema
def test_lock_covers_every_crd_and_chart_file(upstream: Path) -> None:
    on_disk = {
        path.relative_to(upstream).as_posix()
        for folder in ("crds", "charts")
        for path in (upstream / folder).rglob("*")
        if path.is_file()
    }
    locked = {entry.path for entry in locked_files()}

    assert locked == on_disk
    for entry in locked_files():
        assert len(entry.commit) == 40
        assert len(entry.sha256) == 64
        assert entry.url == (
            f"https://raw.githubusercontent.com/{entry.repository}/{entry.commit}/"
            f"{entry.repository_path}"
        )


@pytest.mark.schema
def test_fetch_from_local_mirror_stores_and_then_skips(
    tmp_path: Path, mirror: Path, small_lock: Path
) -> None:
    dest = tmp_path / "dest"

    first = fetch(dest, source=str(mirror), lock_path=small_lock)
    second = fetch(dest, source=str(mirror), lock_path=small_lock)

    assert sorted(first.stored) == sorted(SAMPLE)
    assert second.stored == []
    assert sorted(second.already_current) == sorted(SAMPLE)
    assert verify(dest, lock_path=small_lock) == []


@pytest.mark.schema
def test_fetch_rejects_a_tampered_file_and_does_not_keep_it(
    tmp_path: Path, mirror: Path, small_lock: Path
) -> None:
    tampered = "crds/karpenter/karpenter.sh_nodepools.yaml"
    with (mirror / tampered).open("a") as handle:
        handle.write("# tampered\n")
    dest = tmp_path / "dest"

    with pytest.raises(UpstreamFetchError) as caught:
        fetch(dest, source=str(mirror), lock_path=small_lock)

    assert len(caught.value.problems) == 1
    assert tampered in caught.value.problems[0]
    assert "does not match the lock" in caught.value.problems[0]
    assert not (dest / tampered).exists()
    assert not list(dest.rglob("*.part"))
    # The untouched files were still stored and verify.
    assert verify(dest, lock_path=small_lock) == [f"{tampered}: missing"]


@pytest.mark.schema
def test_verify_reports_a_changed_file(tmp_path: Path, mirror: Path, small_lock: Path) -> None:
    dest = tmp_path / "dest"
    fetch(dest, source=str(mirror), lock_path=small_lock)
    (dest / "charts/mlflow/Chart.yaml").write_text("name: mlflow\nversion: 9.9.9\n")

    problems = verify(dest, lock_path=small_lock)

    assert len(problems) == 1
    assert problems[0].startswith("charts/mlflow/Chart.yaml: sha256 ")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_mirror(mirror: Path) -> Iterator[str]:
    """The mirror served over HTTP on localhost, to exercise the download path offline."""
    handler = functools.partial(_QuietHandler, directory=str(mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.schema
def test_fetch_downloads_verifies_and_reports_http_errors(
    tmp_path: Path, mirror: Path, http_mirror: str, small_lock: Path
) -> None:
    dest = tmp_path / "dest"
    result = fetch(dest, source=http_mirror, lock_path=small_lock)
    assert sorted(result.stored) == sorted(SAMPLE)
    assert verify(dest, lock_path=small_lock) == []

    gone = "charts/mlflow/Chart.yaml"
    (mirror / gone).unlink()
    (dest / gone).unlink()
    with pytest.raises(UpstreamFetchError) as caught:
        fetch(dest, source=http_mirror, lock_path=small_lock)

    assert caught.value.problems == [f"{gone}: HTTP 404 from {http_mirror}/{gone}"]


@pytest.mark.unit
def test_fetch_reports_an_unreachable_server_clearly(tmp_path: Path, small_lock: Path) -> None:
    with pytest.raises(UpstreamFetchError) as caught:
        fetch(tmp_path / "dest", source="http://127.0.0.1:9", timeout=2, lock_path=small_lock)

    problems = caught.value.problems
    assert "cannot download" in problems[0]
    assert "--from DIR" in problems[0]
    assert problems[-1] == "2 more file(s) not attempted after the network failure"


@pytest.mark.unit
def test_fetch_from_missing_mirror_is_an_error(tmp_path: Path, small_lock: Path) -> None:
    with pytest.raises(UpstreamFetchError, match="does not exist"):
        fetch(tmp_path / "dest", source=str(tmp_path / "nowhere"), lock_path=small_lock)


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    # -S: no site-packages, proving the script needs neither the project nor its dependencies.
    return subprocess.run(
        [sys.executable, "-S", str(FETCH_SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.schema
def test_script_copies_from_a_mirror_and_verifies(tmp_path: Path, upstream: Path) -> None:
    dest = tmp_path / "fetched"

    fetched = _run_script("--dest", str(dest), "--from", str(upstream))
    verified = _run_script("--dest", str(dest), "--verify-only")

    assert fetched.returncode == 0, fetched.stderr
    assert f"stored {len(locked_files())}" in fetched.stdout
    assert verified.returncode == 0, verified.stderr
    assert "verified" in verified.stdout


@pytest.mark.schema
def test_script_fails_on_a_tampered_mirror_and_a_tampered_dest(
    tmp_path: Path, upstream: Path
) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(upstream, mirror)
    tampered = "charts/karpenter/values.yaml"
    (mirror / tampered).write_text("replicas: 100\n")
    dest = tmp_path / "fetched"

    fetched = _run_script("--dest", str(dest), "--from", str(mirror))

    assert fetched.returncode == 1
    assert f"error: {tampered}: sha256" in fetched.stderr
    assert not (dest / tampered).exists()

    shutil.copyfile(upstream / tampered, dest / tampered)
    (dest / "charts/mlflow/values.yaml").write_text("x: 1\n")
    verified = _run_script("--dest", str(dest), "--verify-only")

    assert verified.returncode == 1
    assert "charts/mlflow/values.yaml" in verified.stderr
