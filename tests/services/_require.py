"""Service tests skip where a real server is missing, except where it is promised."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

# CI installs the Debian packages these tests need and sets this, so a missing server there
# is a failure, never a silently skipped acceptance test.
REQUIRE_SERVICES = "MLOPS_BP_REQUIRE_SERVICES"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_SERVICES) == "1":
        pytest.fail(f"{reason}, but {REQUIRE_SERVICES}=1 says this machine provides it")
    pytest.skip(reason)
