"""Errors a user can act on.

Every error names the field, the value received and the fix, so a bad configuration fails
before any resource is registered and the message is enough to correct it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BlueprintConfigError", "UpstreamMissingError", "UsageError"]


class BlueprintConfigError(ValueError):
    """A configuration value is invalid; raised before any resource is registered."""

    def __init__(self, field: str, value: Any, fix: str) -> None:
        self.field = field
        self.value = value
        self.fix = fix
        super().__init__(f"{field}: invalid value {value!r}. {fix}")


class UsageError(ValueError):
    """A command-line argument is invalid. The message says what to pass instead."""


class UpstreamMissingError(UsageError):
    """The upstream schema directory is not set or does not hold the expected files."""
