# Shared setup for scripts/quickstart and scripts/test (sourced, not run).
# Needs only python3 (>= 3.11) and a shell: installs uv when missing, syncs the locked
# environment, and makes sure the upstream schema files are present and verified.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

export DO_NOT_TRACK=true
export PULUMI_SKIP_UPDATE_CHECK=true

if ! command -v uv >/dev/null 2>&1; then
  if [ ! -x .cache/uv-bootstrap/bin/uv ]; then
    echo "==> uv not found: installing it into .cache/uv-bootstrap"
    python3 -m venv .cache/uv-bootstrap
    .cache/uv-bootstrap/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.13,<0.14"
  fi
  export PATH="$REPO_ROOT/.cache/uv-bootstrap/bin:$PATH"
fi

echo "==> syncing the locked environment (uv sync --locked)"
uv sync --locked --quiet
echo "==> syncing the reference app's environment (reference-app, uv sync --locked)"
# Byte-compiled at install: KFP's local runner starts a fresh interpreter per step.
(cd reference-app && UV_COMPILE_BYTECODE=1 uv sync --locked --quiet)

if [ -z "${MLOPS_BP_UPSTREAM_DIR:-}" ]; then
  export MLOPS_BP_UPSTREAM_DIR="$REPO_ROOT/.cache/upstream"
fi
if ! python3 scripts/fetch-upstream --dest "$MLOPS_BP_UPSTREAM_DIR" --verify-only >/dev/null 2>&1; then
  echo "==> fetching upstream schemas into $MLOPS_BP_UPSTREAM_DIR"
  python3 scripts/fetch-upstream --dest "$MLOPS_BP_UPSTREAM_DIR"
fi
echo "==> upstream schemas: $MLOPS_BP_UPSTREAM_DIR (verified)"
