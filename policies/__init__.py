"""Policy rules for the platform, by domain, mapped to compliance frameworks.

The rules are plain, importable data (``Rule``); nothing here constructs a ``PolicyPack``
(that starts a policy server): ``policies/pack`` is the entry point the Pulumi CLI runs.
``evaluate_render`` runs them offline on a render (``mlops-bp check``).
"""

from ._analyze import AnalyzedResource, Violation, analyze
from ._engine import (
    ControlResult,
    ControlStatus,
    Enforcement,
    PolicyReport,
    PolicyViolation,
    RenderContext,
    StaleSuppression,
    SuppressedViolation,
    default_enforcement,
    evaluate,
    evaluate_render,
    load_render_context,
    load_resources,
    resolve_enforcement,
    suppression_applies,
)
from ._frameworks import CONTROLS
from ._rule import FRAMEWORKS, SEVERITIES, Framework, Rule, Severity
from .aws import RULES as AWS_RULES
from .helm import RULES as HELM_RULES
from .kubernetes import RULES as KUBERNETES_RULES
from .mlops import RULES as MLOPS_RULES

# Every rule of every domain: what the engine, the pack and the catalogue run and list.
ALL_RULES: tuple[Rule, ...] = (*AWS_RULES, *KUBERNETES_RULES, *HELM_RULES, *MLOPS_RULES)

__all__ = [
    "ALL_RULES",
    "AWS_RULES",
    "CONTROLS",
    "FRAMEWORKS",
    "HELM_RULES",
    "KUBERNETES_RULES",
    "MLOPS_RULES",
    "SEVERITIES",
    "AnalyzedResource",
    "ControlResult",
    "ControlStatus",
    "Enforcement",
    "Framework",
    "PolicyReport",
    "PolicyViolation",
    "RenderContext",
    "Rule",
    "Severity",
    "StaleSuppression",
    "SuppressedViolation",
    "Violation",
    "analyze",
    "default_enforcement",
    "evaluate",
    "evaluate_render",
    "load_render_context",
    "load_resources",
    "resolve_enforcement",
    "suppression_applies",
]
