"""Helm release rules: pinned charts, admin credentials from Secrets, restricted security
contexts, cluster-internal Services, all read from the values the platform passes."""

from ._rules import (
    ADMIN_CREDENTIALS,
    EXTERNAL_SERVICE_DEFAULTS,
    HELM_RELEASE_TYPES,
    REQUIRED_SECURITY_CONTEXTS,
    RULES,
    AdminCredentials,
    SecurityContextPath,
)
from ._values import chart_name

__all__ = [
    "ADMIN_CREDENTIALS",
    "EXTERNAL_SERVICE_DEFAULTS",
    "HELM_RELEASE_TYPES",
    "REQUIRED_SECURITY_CONTEXTS",
    "RULES",
    "AdminCredentials",
    "SecurityContextPath",
    "chart_name",
]
