"""The numpy scorer: exact against scikit-learn, and refused for anything it cannot match."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlops_reference_app import data, training
from mlops_reference_app.scoring import (
    TOLERANCE,
    LinearScorer,
    NotCompilableError,
    compile_linear,
    compile_scorer,
    sklearn_scorer,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

pytestmark = pytest.mark.app


@pytest.fixture(scope="module")
def trained(weather: pd.DataFrame) -> training.TrainedModel:
    return training.train(data.window(weather, "2012-01-01", "2014-01-01"))


def _matrix(frame: pd.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    return frame[list(features)].to_numpy(dtype=np.float64)


def test_compiled_scorer_matches_the_pipeline_on_real_rows_and_gaps(
    trained: training.TrainedModel, weather: pd.DataFrame
) -> None:
    scorer, how = compile_scorer(trained.pipeline, trained.features)
    assert how == "numpy"
    assert isinstance(scorer, LinearScorer)
    rows = _matrix(data.window(weather, "2014-01-01", "2016-01-01"), trained.features)
    rows[::7, 2] = np.nan  # missing values take the imputer's medians
    rows[::11, 0] = np.nan
    expected = trained.predict_proba(pd.DataFrame(rows, columns=list(trained.features)))
    np.testing.assert_allclose(scorer(rows), expected, rtol=0, atol=TOLERANCE)
    assert scorer(rows[:1]).shape == (1,)


def test_a_model_where_class_one_comes_first_is_scored_for_class_one(
    weather: pd.DataFrame,
) -> None:
    frame = data.window(weather, "2012-01-01", "2013-01-01")
    features = tuple(data.FEATURES)
    x = _matrix(frame, features)
    labels = np.where(frame[data.TARGET].to_numpy() == 1, 1, 7)  # classes_ = [1, 7]
    pipeline = training.build_pipeline().fit(pd.DataFrame(x, columns=list(features)), labels)
    scorer = compile_linear(pipeline, features)
    assert not scorer.positive_is_second
    np.testing.assert_allclose(
        scorer(x), sklearn_scorer(pipeline, features)(x), rtol=0, atol=TOLERANCE
    )


class _ShiftedLogistic(LogisticRegression):
    """Passes every shape check but scores differently: only the probe can catch it."""

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803 (scikit-learn's name)
        return np.clip(super().predict_proba(X) + 1e-6, 0.0, 1.0)


def _fitted(steps: list[tuple[str, Any]], frame: pd.DataFrame) -> Pipeline:
    return Pipeline(steps).fit(frame[list(data.FEATURES)], frame[data.TARGET])


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        (
            [
                ("impute", SimpleImputer()),
                ("scale", MinMaxScaler()),
                ("classify", LogisticRegression()),
            ],
            "second step is MinMaxScaler",
        ),
        (
            [
                ("impute", SimpleImputer(add_indicator=True)),
                ("scale", StandardScaler()),
                ("classify", LogisticRegression()),
            ],
            "adds indicator columns",
        ),
        (
            [("scale", StandardScaler()), ("classify", LogisticRegression())],
            "has 2 steps, expected 3",
        ),
        (
            [
                ("impute", SimpleImputer()),
                ("scale", StandardScaler()),
                ("classify", _ShiftedLogistic()),
            ],
            "differs from scikit-learn by 1e-06",
        ),
    ],
    ids=["other-scaler", "indicator", "two-steps", "probe-mismatch"],
)
def test_pipelines_it_cannot_match_fall_back_to_scikit_learn(
    steps: list[tuple[str, Any]], reason: str, weather: pd.DataFrame
) -> None:
    frame = data.window(weather, "2012-01-01", "2013-01-01")
    pipeline = _fitted(steps, frame)
    with pytest.raises(NotCompilableError, match=reason):
        compile_linear(pipeline, tuple(data.FEATURES))
    scorer, how = compile_scorer(pipeline, tuple(data.FEATURES))
    assert how.startswith("scikit-learn (")
    assert reason in how
    rows = _matrix(frame.head(5), tuple(data.FEATURES))
    np.testing.assert_allclose(
        scorer(rows), pipeline.predict_proba(frame[list(data.FEATURES)].head(5))[:, 1]
    )


def test_single_class_and_all_missing_columns_are_not_compiled(weather: pd.DataFrame) -> None:
    frame = data.window(weather, "2012-01-01", "2013-01-01")
    features = tuple(data.FEATURES)
    single = training.train(frame.assign(**{data.TARGET: 0}))
    with pytest.raises(NotCompilableError):
        compile_linear(single.pipeline, single.features)
    empty = frame.assign(wind=np.nan)
    pipeline = training.build_pipeline().fit(empty[list(features)], empty[data.TARGET])
    with pytest.raises(NotCompilableError, match="drops or lacks a column"):
        compile_linear(pipeline, features)
    with pytest.raises(NotCompilableError, match="not a Pipeline"):
        compile_linear(LogisticRegression(), features)
