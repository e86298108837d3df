"""Tests that need a real server skip when it is missing, unless the machine promises it."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

# CI installs the servers these tests need and sets this variable: there a missing server is
# a failure, never a silently skipped test.
REQUIRE_SERVICES = "MLOPS_BP_REQUIRE_SERVICES"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_SERVICES) == "1":
        pytest.fail(f"{reason}, but {REQUIRE_SERVICES}=1 says this machine provides it")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
