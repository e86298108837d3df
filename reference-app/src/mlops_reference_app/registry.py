"""Champion/challenger promotion through MLflow registry aliases.

A newly registered version becomes the ``challenger``. The validation gate then checks the
batch it was trained on (when given) and compares it with the current ``champion`` on a
held-out window. Only an accepted verdict moves ``champion``; a rejected one leaves every
alias except ``challenger`` untouched, so serving keeps loading the same model.

Each decision is recorded on the candidate version as tags (``validation_status``,
``validation_message``) and, when a report path is given, the JSON report is logged to the
candidate's run under ``validation/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from mlops_reference_app import tracking
from mlops_reference_app.settings import AppSettings
from mlops_reference_app.validation import CheckResult, GateConfig, Verdict, run_gate

STATUS_TAG = "validation_status"
MESSAGE_TAG = "validation_message"
# MLflow caps tag values; keep the message well under the smallest backend limit.
_MAX_TAG_CHARS = 4000


@dataclass(frozen=True)
class PromotionDecision:
    """What :func:`promote_challenger_if_better` did.

    - ``promoted``: whether ``champion`` now points at the candidate.
    - ``candidate_version``: the version that was evaluated (aliased ``challenger``).
    - ``previous_champion``: the champion before the decision (None if there was none).
    - ``champion_version``: the champion after the decision.
    - ``verdict``: the gate's verdict with every check.
    """

    promoted: bool
    candidate_version: int
    previous_champion: int | None
    champion_version: int | None
    verdict: Verdict

    @property
    def message(self) -> str:
        if self.promoted:
            before = (
                f"replacing version {self.previous_champion}"
                if self.previous_champion is not None
                else "as the first champion"
            )
            return f"version {self.candidate_version} promoted to champion {before}"
        keep = (
            f"champion stays at version {self.champion_version}"
            if self.champion_version is not None
            else "there is still no champion"
        )
        return f"version {self.candidate_version} not promoted, {keep}: {self.verdict.message}"


def _client(settings: AppSettings) -> Any:
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)


def _load(settings: AppSettings, alias: str, role: str) -> tuple[Any | None, CheckResult]:
    try:
        model = tracking.load_model(settings, alias)
    except tracking.ModelLoadError as exc:
        return None, CheckResult(
            f"{role}_loadable",
            "model",
            False,
            f"the {role} could not be loaded: {exc}",
            {"alias": alias, "error": type(exc.__cause__ or exc).__name__},
        )
    return model, CheckResult(
        f"{role}_loadable", "model", True, f"the {role} ({alias}) loads", {"alias": alias}
    )


def promote_challenger_if_better(
    settings: AppSettings,
    candidate_version: int,
    *,
    holdout: pd.DataFrame,
    batch: pd.DataFrame | None = None,
    now: pd.Timestamp | str | None = None,
    config: GateConfig | None = None,
    report_path: str | Path | None = None,
) -> PromotionDecision:
    """Alias ``candidate_version`` as challenger, gate it, and promote it only if accepted.

    ``holdout`` is the window both models are scored on (never seen by the candidate in
    training). ``batch`` is the training batch whose data checks must also pass; ``now`` is
    the clock for its freshness check. A champion that exists but cannot be loaded fails the
    gate (fail closed): repair the champion alias first.
    """
    previous = tracking.champion_version(settings)
    tracking.set_alias(settings, candidate_version, tracking.CHALLENGER)
    candidate, candidate_check = _load(settings, tracking.CHALLENGER, "challenger")
    champion, champion_check = (None, None)
    if previous is not None and previous != candidate_version:
        champion, champion_check = _load(settings, tracking.CHAMPION, "champion")
    context = {
        "model_name": settings.model_name,
        "candidate_version": candidate_version,
        "champion_version": previous,
    }
    loads = [c for c in (candidate_check, champion_check) if c is not None]
    if all(c.passed for c in loads) and candidate is not None:
        gate = run_gate(
            batch,
            now=now,
            candidate=candidate,
            champion=champion,
            holdout=holdout,
            config=config,
            context=context,
        )
        checks = (*loads, *gate.checks)
        context = gate.context
    else:
        gate_data = (
            run_gate(batch, now=now, config=config, context=context) if batch is not None else None
        )
        checks = (*loads, *(gate_data.checks if gate_data else ()))
    verdict = Verdict(checks=tuple(checks), context=context)
    if report_path is not None:
        verdict = Verdict(checks=verdict.checks, report_path=Path(report_path), context=context)
        verdict.write(report_path)

    client = _client(settings)
    if verdict.accepted:
        tracking.set_alias(settings, candidate_version, tracking.CHAMPION)
        client.delete_registered_model_alias(settings.model_name, tracking.CHALLENGER)
    status = "accepted" if verdict.accepted else "rejected"
    client.set_model_version_tag(settings.model_name, str(candidate_version), STATUS_TAG, status)
    client.set_model_version_tag(
        settings.model_name,
        str(candidate_version),
        MESSAGE_TAG,
        verdict.message[:_MAX_TAG_CHARS],
    )
    if report_path is not None:
        run_id = client.get_model_version(settings.model_name, str(candidate_version)).run_id
        if run_id:
            client.log_artifact(run_id, str(report_path), artifact_path="validation")
    return PromotionDecision(
        promoted=verdict.accepted,
        candidate_version=candidate_version,
        previous_champion=previous,
        champion_version=tracking.champion_version(settings),
        verdict=verdict,
    )


__all__ = ["MESSAGE_TAG", "STATUS_TAG", "PromotionDecision", "promote_challenger_if_better"]
