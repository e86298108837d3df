"""Data versioning with DVC: every training window becomes a content-addressed data version.

A DVC repository without git (``dvc init --no-scm``) lives in ``<workdir>/data-versions``.
Each window is written as a CSV file with fixed formatting (same rows, same bytes), added
with ``dvc add`` and pushed to the remote in ``settings.dvc_remote``:

- a local directory (the embedded settings), or
- ``s3://bucket/prefix``; ``settings.s3_endpoint_url`` selects an S3-compatible endpoint,
  and credentials come from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` when set
  (written to the repository's untracked ``config.local``), otherwise from the default AWS
  chain (e.g. the pod's workload identity).

The data version is the md5 of the window file, exactly as recorded in its ``.dvc`` file.
That string alone is enough to get the bytes back: :func:`fetch_version` builds a fresh
checkout holding only a ``.dvc`` file naming that md5 and pulls it from the remote.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from dvc.repo import Repo

from mlops_reference_app.data import TIMESTAMP
from mlops_reference_app.settings import AppSettings

REPO_DIRNAME = "data-versions"
WINDOWS_DIRNAME = "windows"
REMOTE_NAME = "storage"
CSV_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


class DataVersionError(RuntimeError):
    """A data version could not be saved or fetched; the message says which and why."""


@dataclass(frozen=True)
class DataVersion:
    """A pushed training window.

    - ``md5``: the data version (md5 of the file, as in its ``.dvc`` file).
    - ``path``: the window file in the DVC workspace.
    - ``dvc_file``: the ``.dvc`` file that tracks it.
    - ``size``: the file size in bytes.
    - ``rows``: number of rows in the window.
    """

    md5: str
    path: Path
    dvc_file: Path
    size: int
    rows: int


def repo_dir(settings: AppSettings) -> Path:
    """Where the DVC workspace of ``settings`` lives."""
    return settings.workdir / REPO_DIRNAME


def _open(root: Path) -> Repo:
    return Repo(str(root))


def configure_remote(root: Path, settings: AppSettings) -> None:
    """Point the repository's default remote at ``settings.dvc_remote``."""
    remote: dict[str, Any] = {"url": settings.dvc_remote}
    credentials: dict[str, Any] = {}
    if settings.dvc_remote.startswith("s3://"):
        if settings.s3_endpoint_url:
            remote["endpointurl"] = settings.s3_endpoint_url
        key = os.environ.get("AWS_ACCESS_KEY_ID")
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            credentials = {"access_key_id": key, "secret_access_key": secret}
    with Repo(str(root)) as repo:
        with repo.config.edit("repo") as conf:
            conf["core"]["remote"] = REMOTE_NAME
            conf["core"]["analytics"] = False
            conf["core"]["site_cache_dir"] = str(_site_cache(root))
            conf["remote"][REMOTE_NAME] = remote
        # Secrets go to config.local, which DVC never asks anyone to commit.
        with repo.config.edit("local") as conf:
            if credentials:
                conf["remote"][REMOTE_NAME] = credentials
            else:
                conf["remote"].pop(REMOTE_NAME, None)


def init_repo(settings: AppSettings, root: Path | None = None) -> Path:
    """Create (or reuse) a git-free DVC repository and configure its remote."""
    target = root or repo_dir(settings)
    target.mkdir(parents=True, exist_ok=True)
    # DVC keeps per-repository state in a machine-wide directory (/var/tmp/dvc) unless told
    # otherwise; keep it inside the repository so a workdir is self-contained. The config
    # setting takes over once written; until then only the variable is honoured.
    with _environment(DVC_SITE_CACHE_DIR=str(_site_cache(target))):
        if not (target / ".dvc").is_dir():
            Repo.init(str(target), no_scm=True).close()
        configure_remote(target, settings)
    return target


def _site_cache(root: Path) -> Path:
    return root / ".dvc" / "site-cache"


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def write_window_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame with fixed formatting, so identical rows give identical bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = frame.sort_values(TIMESTAMP, kind="stable") if TIMESTAMP in frame.columns else frame
    ordered.to_csv(path, index=False, date_format=CSV_DATE_FORMAT, lineterminator="\n")


def read_window(path: str | Path) -> pd.DataFrame:
    """Read a window file written by :func:`save_window` (timestamps parsed)."""
    frame = pd.read_csv(path)
    if TIMESTAMP in frame.columns:
        frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP])
    return frame


def _out_of(dvc_file: Path) -> dict[str, Any]:
    document = yaml.safe_load(dvc_file.read_text())
    outs = document.get("outs") or []
    if len(outs) != 1 or "md5" not in outs[0]:
        raise DataVersionError(f"{dvc_file} does not track exactly one file with an md5")
    return dict(outs[0])


def save_window(settings: AppSettings, frame: pd.DataFrame, name: str) -> DataVersion:
    """Write ``frame`` as ``windows/<name>.csv``, ``dvc add`` it and ``dvc push`` it."""
    if not _NAME.match(name):
        raise DataVersionError(
            f"window name {name!r} is not a plain file name; use letters, digits, '.', '_', '-'"
        )
    root = init_repo(settings)
    relative = Path(WINDOWS_DIRNAME) / f"{name}.csv"
    path = root / relative
    write_window_csv(frame, path)
    with _open(root) as repo:
        # DVC resolves relative targets against the process's working directory.
        repo.add([str(path)])
        dvc_file = root / f"{relative}.dvc"
        try:
            repo.push(targets=[str(dvc_file)], remote=REMOTE_NAME)
        except Exception as exc:
            raise DataVersionError(
                f"pushing window {name!r} to {settings.dvc_remote} failed "
                f"({type(exc).__name__}: {exc}); check the remote URL, endpoint and credentials"
            ) from exc
    out = _out_of(dvc_file)
    return DataVersion(
        md5=str(out["md5"]),
        path=path,
        dvc_file=dvc_file,
        size=int(out.get("size", path.stat().st_size)),
        rows=len(frame),
    )


def version_window(settings: AppSettings, frame: pd.DataFrame, name: str) -> str:
    """:func:`save_window` returning only the data version (the md5)."""
    return save_window(settings, frame, name).md5


def fetch_version(
    settings: AppSettings, data_version: str, dest: Path, *, name: str = "window"
) -> Path:
    """Pull the file whose md5 is ``data_version`` into a fresh DVC checkout at ``dest``.

    ``dest`` must not already be a DVC repository. Returns the path of the pulled file.
    """
    if not _MD5.match(data_version):
        raise DataVersionError(f"data version {data_version!r} is not an md5 (32 hex digits)")
    if (dest / ".dvc").exists():
        raise DataVersionError(f"{dest} is already a DVC repository; fetch into a fresh directory")
    root = init_repo(settings, dest)
    relative = f"{name}.csv"
    document = {"outs": [{"md5": data_version, "hash": "md5", "path": relative}]}
    (root / f"{relative}.dvc").write_text(yaml.safe_dump(document, sort_keys=False))
    with _open(root) as repo:
        try:
            repo.pull(targets=[str(root / f"{relative}.dvc")], remote=REMOTE_NAME)
        except Exception as exc:
            raise DataVersionError(
                f"data version {data_version} could not be pulled from {settings.dvc_remote} "
                f"({type(exc).__name__}); it was never pushed there, or the remote is unreachable"
            ) from exc
    return root / relative


def load_version(settings: AppSettings, data_version: str, dest: Path) -> pd.DataFrame:
    """The window frame behind a data version (pulled into ``dest``)."""
    return read_window(fetch_version(settings, data_version, dest))
