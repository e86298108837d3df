"""``mlops-bp check``: evaluate a rendered directory against real upstream artifacts.

Checks (each reports ``Finding`` objects naming the object and the field):

- ``kubernetes``: built-in objects against the Kubernetes OpenAPI schemas, per version;
- ``crd``: custom resources against their CRD's ``openAPIV3Schema``;
- ``helm``: release values against the chart's ``values.yaml`` (and ``values.schema.json``),
  and the pinned chart version against ``Chart.yaml``;
- ``ordering``: every custom resource after its CRD, every namespaced object after its
  namespace, from ``inventory.json``;
- ``policy``: the policy rules of the render's level (``run_checks(..., policies=True)``, as
  ``mlops-bp check`` does), with the enforcement and suppressions of the recorded stack config;
  other policy results can be merged with ``add_policy_findings``.
"""

from mlops_blueprints.check._findings import CHECK_NAMES, CheckName, Finding, Severity
from mlops_blueprints.check._ordering import CRD_INSTALLING_CHARTS, ChartCrds
from mlops_blueprints.check._report import (
    CheckReport,
    add_policy_findings,
    compliance_table,
    report_table,
)
from mlops_blueprints.check._run import run_checks

__all__ = [
    "CHECK_NAMES",
    "CRD_INSTALLING_CHARTS",
    "ChartCrds",
    "CheckName",
    "CheckReport",
    "Finding",
    "Severity",
    "add_policy_findings",
    "compliance_table",
    "report_table",
    "run_checks",
]
