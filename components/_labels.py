"""Labels every Kubernetes object the project creates carries.

They make ownership visible (``app.kubernetes.io/*``) and let cost allocation group spend by
team and level.
"""

from __future__ import annotations

__all__ = ["MANAGED_BY", "standard_labels"]

MANAGED_BY = "mlops-blueprints"


def standard_labels(
    component: str, *, instance: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """``app.kubernetes.io`` labels for one component instance, plus caller extras."""
    labels = {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": "mlops-platform",
    }
    if extra:
        labels.update(extra)
    return labels
