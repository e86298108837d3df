"""The reference ML application."""

import os

# Importing feast (directly, or through MLflow's plugin entry points) points these at a
# temporary directory of its own, which switches prometheus_client into multiprocess mode in
# every process started afterwards: counters of unrelated processes then add up. Children we
# start get an environment without them (see ``metrics_free_environ``).
PROMETHEUS_MULTIPROCESS_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")


def metrics_free_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` plus ``extra``, without feast's multiprocess metrics directory."""
    env = {k: v for k, v in os.environ.items() if k not in PROMETHEUS_MULTIPROCESS_VARIABLES}
    env.update(extra or {})
    return env
