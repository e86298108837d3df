"""Shared test setup for the reference app."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

# prometheus_client picks its value storage when first imported; import it before anything
# can import feast, which sets a multiprocess directory in the environment.
import pandas as pd
import prometheus_client  # noqa: F401
import pytest
from mlops_reference_app import PROMETHEUS_MULTIPROCESS_VARIABLES, data

for _name in ("DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY", "BENTOML_DO_NOT_TRACK"):
    os.environ.setdefault(_name, "true")


@pytest.fixture(autouse=True)
def _no_multiprocess_metrics_directory() -> Iterator[None]:
    """Keep feast's multiprocess metrics directory out of the next test's processes."""
    yield
    for name in PROMETHEUS_MULTIPROCESS_VARIABLES:
        os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def _reset_mlflow_uris() -> Iterator[None]:
    """MLflow's tracking and registry URIs are process-wide (and exported to the
    environment); undo them so one test's store never answers another test's queries."""
    yield
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    os.environ.pop("MLFLOW_REGISTRY_URI", None)


@pytest.fixture(scope="session")
def weather() -> pd.DataFrame:
    """The embedded dataset, loaded once; tests take copies or slices, never edit it."""
    return data.load_weather()
