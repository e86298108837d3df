"""The framework mapping the Kubernetes rules share, with per-rule CIS and NIST controls.

Every Kubernetes rule protects the workloads that process the platform's data and models, so
each serves the same access-control and security-of-processing obligations (HIPAA
164.312(a)(1), GDPR Art. 32, DPDP Sec. 8(5), EU AI Act Art. 15); the CIS EKS and NIST
controls are what differ between rules.
"""

from __future__ import annotations

from typing import Final

from mlops_blueprints.policies._rule import Framework

__all__ = ["KUBERNETES_TAG", "controls"]

KUBERNETES_TAG: Final = "kubernetes"


def controls(
    *,
    cis: tuple[str, ...] = (),
    nist: tuple[str, ...],
    hipaa: tuple[str, ...] = ("164.312(a)(1)",),
    gdpr: tuple[str, ...] = ("Art. 32",),
    dpdp: tuple[str, ...] = ("Sec. 8(5)",),
    eu_ai_act: tuple[str, ...] = ("Art. 15",),
) -> dict[Framework, tuple[str, ...]]:
    """A rule's framework -> controls mapping (frameworks with no control are left out)."""
    mapping: dict[Framework, tuple[str, ...]] = {
        "cis-eks": cis,
        "nist-800-53": nist,
        "hipaa": hipaa,
        "gdpr": gdpr,
        "dpdp": dpdp,
        "eu-ai-act": eu_ai_act,
    }
    return {framework: ids for framework, ids in mapping.items() if ids}
