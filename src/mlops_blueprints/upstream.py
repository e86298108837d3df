"""Upstream schema data: where it lives, what it must contain, and how to fetch it.

``mlops-bp check`` validates a rendered directory against real upstream artifacts: Kubernetes
CRDs and Helm chart ``values.yaml``/``Chart.yaml``/``values.schema.json`` files. The lock file
``check/upstream.lock.json`` pins each of them by repository, commit and sha256. The directory
holding them is named by ``MLOPS_BP_UPSTREAM_DIR``; ``fetch`` fills such a directory from GitHub
or from a local mirror, and ``verify`` proves its contents match the lock.

This module uses only the standard library so ``scripts/fetch-upstream`` can run it with a plain
``python3`` before the project is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlops_blueprints.errors import UpstreamMissingError

__all__ = [
    "DEFAULT_FETCH_DEST",
    "LOCK_PATH",
    "UPSTREAM_ENV",
    "FetchResult",
    "LockedFile",
    "UpstreamFetchError",
    "fetch",
    "locked_files",
    "upstream_dir",
    "verify",
]

UPSTREAM_ENV = "MLOPS_BP_UPSTREAM_DIR"
DEFAULT_FETCH_DEST = Path(".cache/upstream")
# resolve() follows the editable-install link back to the source tree, where the lock lives.
LOCK_PATH = Path(__file__).resolve().parent / "check" / "upstream.lock.json"
RAW_GITHUB = "https://raw.githubusercontent.com"

_FETCH_COMMAND = "mlops-bp upstream fetch"


class UpstreamFetchError(UpstreamMissingError):
    """Fetching upstream data failed; ``problems`` lists every file that could not be stored."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"upstream fetch failed for {len(problems)} file(s): {shown}{more}")


@dataclass(frozen=True)
class LockedFile:
    """One pinned upstream file: where it goes locally and where it comes from."""

    path: str
    repository: str
    repository_path: str
    commit: str
    sha256: str

    @property
    def url(self) -> str:
        return f"{RAW_GITHUB}/{self.repository}/{self.commit}/{self.repository_path}"


@dataclass
class FetchResult:
    """What ``fetch`` did, by local path."""

    stored: list[str] = field(default_factory=list)
    already_current: list[str] = field(default_factory=list)


def locked_files(*, lock_path: Path = LOCK_PATH) -> tuple[LockedFile, ...]:
    """Every upstream file the checks use, as pinned in the lock file."""
    data = json.loads(lock_path.read_text(encoding="utf-8"))
    return tuple(
        LockedFile(
            path=entry["path"],
            repository=entry["repository"],
            repository_path=entry["repository_path"],
            commit=entry["commit"],
            sha256=entry["sha256"],
        )
        for entry in data["files"]
    )


def upstream_dir() -> Path:
    """The upstream data directory named by ``MLOPS_BP_UPSTREAM_DIR``, checked for completeness.

    Only presence is checked here (cheap); ``verify`` also compares hashes.
    """
    raw = os.environ.get(UPSTREAM_ENV, "").strip()
    if not raw:
        raise UpstreamMissingError(
            f"{UPSTREAM_ENV} is not set: set it to a directory of upstream data, or run "
            f"`{_FETCH_COMMAND}` and set it to {DEFAULT_FETCH_DEST}"
        )
    directory = Path(raw).expanduser()
    if not directory.is_dir():
        raise UpstreamMissingError(
            f"{UPSTREAM_ENV}={raw} is not a directory: set it to a directory of upstream data, "
            f"or run `{_FETCH_COMMAND} --dest {raw}`"
        )
    expected = locked_files()
    missing = [entry.path for entry in expected if not (directory / entry.path).is_file()]
    if missing:
        raise UpstreamMissingError(
            f"{UPSTREAM_ENV}={raw} lacks {len(missing)} of {len(expected)} upstream files "
            f"(first: {missing[0]}): run `{_FETCH_COMMAND} --dest {raw}`"
        )
    return directory


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(directory: Path, *, lock_path: Path = LOCK_PATH) -> list[str]:
    """Problems with ``directory`` against the lock: missing files and sha256 mismatches."""
    problems: list[str] = []
    for entry in locked_files(lock_path=lock_path):
        target = directory / entry.path
        if not target.is_file():
            problems.append(f"{entry.path}: missing")
            continue
        actual = _sha256(target)
        if actual != entry.sha256:
            problems.append(
                f"{entry.path}: sha256 {actual} does not match the lock ({entry.sha256})"
            )
    return problems


def _download(url: str, destination: Path, *, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "mlops-bp-upstream-fetch"})
    with (
        urllib.request.urlopen(request, timeout=timeout) as response,
        destination.open("wb") as handle,
    ):
        shutil.copyfileobj(response, handle)


def _source_kind(source: str | None) -> str:
    if source is None:
        return "github"
    if source.startswith(("https://", "http://")):
        return "url"
    return "dir"


def fetch(
    dest: Path,
    *,
    source: str | None = None,
    timeout: float = 30.0,
    lock_path: Path = LOCK_PATH,
    progress: Callable[[str], None] | None = None,
) -> FetchResult:
    """Store every locked file under ``dest``, verifying each sha256 before keeping it.

    ``source`` is None to download from GitHub at the pinned commits, an ``http(s)://`` base URL
    of a mirror laid out like ``dest``, or a local directory to copy from. Files already present
    with the right hash are left alone. A file whose hash does not match is deleted, never kept.
    Raises ``UpstreamFetchError`` listing every problem once all files were tried (downloads stop
    at the first network failure, since the rest would fail the same way).
    """
    kind = _source_kind(source)
    if kind == "dir" and source is not None and not Path(source).is_dir():
        raise UpstreamFetchError([f"mirror directory {source} does not exist"])
    report = progress or (lambda _message: None)
    result = FetchResult()
    problems: list[str] = []
    network_down: str | None = None
    not_attempted = 0
    for entry in locked_files(lock_path=lock_path):
        target = dest / entry.path
        if target.is_file() and _sha256(target) == entry.sha256:
            result.already_current.append(entry.path)
            report(f"current  {entry.path}")
            continue
        if network_down is not None:
            not_attempted += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        url = entry.url if source is None else f"{source.rstrip('/')}/{entry.path}"
        try:
            if kind == "dir" and source is not None:
                origin = Path(source) / entry.path
                if not origin.is_file():
                    problems.append(f"{entry.path}: missing in mirror {source}")
                    continue
                shutil.copyfile(origin, partial)
            else:
                _download(url, partial, timeout=timeout)
        except urllib.error.HTTPError as error:
            partial.unlink(missing_ok=True)
            problems.append(f"{entry.path}: HTTP {error.code} from {url}")
            continue
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            partial.unlink(missing_ok=True)
            reason = getattr(error, "reason", error)
            if kind == "dir":
                problems.append(f"{entry.path}: cannot copy: {reason}")
                continue
            network_down = str(reason)
            problems.append(
                f"{entry.path}: cannot download ({reason}); offline? copy from a local mirror "
                "with --from DIR"
            )
            continue
        actual = _sha256(partial)
        if actual != entry.sha256:
            partial.unlink()
            # A stale file with the wrong content must not survive either: verify would flag it.
            target.unlink(missing_ok=True)
            problems.append(
                f"{entry.path}: sha256 {actual} does not match the lock ({entry.sha256}); "
                "file discarded"
            )
            continue
        partial.replace(target)
        result.stored.append(entry.path)
        report(f"stored   {entry.path}")
    if not_attempted:
        problems.append(f"{not_attempted} more file(s) not attempted after the network failure")
    if problems:
        raise UpstreamFetchError(problems)
    return result
