"""A missing server skips locally and fails where the machine promises it."""

from __future__ import annotations

import pytest

from tests.services._require import REQUIRE_SERVICES, unavailable


def test_a_missing_server_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_SERVICES, raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server is not installed"):
        unavailable("redis-server is not installed")


def test_a_missing_server_fails_where_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES, "1")
    with pytest.raises(pytest.fail.Exception, match="MLOPS_BP_REQUIRE_SERVICES=1"):
        unavailable("redis-server is not installed")
