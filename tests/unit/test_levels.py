"""Levels only add: flags accumulate, and a stack moves up a level in place.

The in-place property is checked with ``upgrade_breaks`` on synthetic inventories (so each
kind of break is known to be caught), on the blueprint for every level, and on every pair of
level stacks that exist under ``stacks/``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from typing import Any

import pydantic
import pytest
import yaml
from mlops_blueprints.blueprints import (
    CONFIG_NAMESPACE,
    LEVEL_FEATURES,
    LEVELS,
    LevelFeatures,
    PlatformSpec,
    deploy_level,
    features_for_level,
)

from mlops_blueprints.errors import UsageError
from mlops_blueprints.render import (
    RenderResult,
    find_level_stack,
    load_stack_config,
    run_program,
)
from mlops_blueprints.render._upgrade import upgrade_breaks
from tests.conftest import RenderFn

pytestmark = pytest.mark.unit

TARGETS = ("kind", "aws")


def _on(features: LevelFeatures) -> set[str]:
    return {name for name, enabled in features.model_dump().items() if enabled}


# --- level presets ------------------------------------------------------------------------


def test_every_flag_is_off_in_the_base() -> None:
    flags = LevelFeatures().model_dump()
    assert len(flags) >= 4
    assert all(name.startswith("enable_") for name in flags)
    assert all(value is False for value in flags.values())


def test_levels_only_add_flags() -> None:
    assert tuple(LEVEL_FEATURES) == LEVELS == (1, 2, 3, 4)
    assert _on(LEVEL_FEATURES[1]), "level 1 turns something on"
    for lower, higher in itertools.pairwise(LEVELS):
        below, above = _on(LEVEL_FEATURES[lower]), _on(LEVEL_FEATURES[higher])
        assert below < above, f"L{higher} must keep every L{lower} flag and add at least one"


def test_every_flag_belongs_to_some_level() -> None:
    # A flag no level turns on is dead configuration.
    assert _on(LEVEL_FEATURES[LEVELS[-1]]) == set(LevelFeatures.model_fields)


def test_level_features_are_strict_and_immutable() -> None:
    with pytest.raises(pydantic.ValidationError, match="enable_data_lakes"):
        LevelFeatures(enable_data_lakes=True)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        LEVEL_FEATURES[1].enable_ci_cd = True  # type: ignore[misc]
    assert LEVEL_FEATURES[1].enable_ci_cd is False


@pytest.mark.parametrize("level", LEVELS)
def test_spec_features_follow_the_level(level: int) -> None:
    spec = PlatformSpec(level=level, target="kind")  # type: ignore[arg-type]
    assert spec.features == features_for_level(level) == LEVEL_FEATURES[level]  # type: ignore[index,arg-type]


# --- upgrade_breaks on synthetic inventories -----------------------------------------------

_STACK_URN = "urn:pulumi:kind::mlops-platform::pulumi:pulumi:Stack::mlops-platform-kind"


def _urn(type_chain: str, name: str) -> str:
    return f"urn:pulumi:kind::mlops-platform::{type_chain}::{name}"


def _entry(
    type_chain: str,
    name: str,
    *,
    parent: str | None = _STACK_URN,
    protect: bool = False,
    aliases: tuple[str, ...] = (),
    inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "urn": _urn(type_chain, name),
        "type": type_chain.rsplit("$", 1)[-1],
        "name": name,
        "parent": parent,
        "custom": "$" in type_chain,
        "protect": protect,
        "inputs": inputs or {},
        "aliases": list(aliases),
    }


PLATFORM = _entry("mlops:blueprints:Platform", "platform")
LAKE = _entry(
    "mlops:blueprints:Platform$mlops:storage:DataLake", "data-lake", parent=PLATFORM["urn"]
)
BUCKET = _entry(
    "mlops:blueprints:Platform$mlops:storage:DataLake$aws:s3/bucket:Bucket",
    "data-lake-raw-bucket",
    parent=LAKE["urn"],
    protect=True,
    inputs={"bucket": "acme-raw"},
)
BASE = [PLATFORM, LAKE, BUCKET]


def test_identical_inventories_have_no_breaks() -> None:
    assert upgrade_breaks(BASE, BASE) == []
    assert upgrade_breaks([], BASE) == []


def test_additions_and_input_changes_are_not_breaks() -> None:
    higher = [
        PLATFORM,
        LAKE,
        BUCKET | {"inputs": {"bucket": "acme-raw", "tags": {"level": "2"}}},
        _entry(
            "mlops:blueprints:Platform$mlops:serving:Serving", "serving", parent=PLATFORM["urn"]
        ),
    ]
    assert upgrade_breaks(BASE, higher) == []
    # The reverse direction drops the new component: that is a break.
    assert upgrade_breaks(higher, BASE) == [
        f"{higher[3]['urn']}: missing from the higher render (it would be deleted)"
    ]


def test_rename_is_reported() -> None:
    renamed = BUCKET | {"urn": _urn("x$aws:s3/bucket:Bucket", "raw-bucket"), "name": "raw-bucket"}
    breaks = upgrade_breaks(BASE, [PLATFORM, LAKE, renamed])
    assert breaks == [f"{BUCKET['urn']}: missing from the higher render (it would be deleted)"]


def test_rename_with_an_alias_is_not_a_break() -> None:
    moved = BUCKET | {
        "urn": _urn("x$aws:s3/bucket:Bucket", "raw-bucket"),
        "aliases": [BUCKET["urn"]],
    }
    assert upgrade_breaks(BASE, [PLATFORM, LAKE, moved]) == []
    # An alias keeps the resource, not its protection.
    unprotected = moved | {"protect": False}
    assert upgrade_breaks(BASE, [PLATFORM, LAKE, unprotected]) == [
        f"{BUCKET['urn']}: protect changed from True to False (moved to {moved['urn']})"
    ]


def test_retype_is_reported() -> None:
    retyped = BUCKET | {"type": "aws:s3/bucketV2:BucketV2"}
    assert upgrade_breaks(BASE, [PLATFORM, LAKE, retyped]) == [
        f"{BUCKET['urn']}: type changed from aws:s3/bucket:Bucket to aws:s3/bucketV2:BucketV2"
    ]


def test_reparent_is_reported() -> None:
    other_lake = _entry(
        "mlops:blueprints:Platform$mlops:storage:DataLake", "other-lake", parent=PLATFORM["urn"]
    )
    reparented = BUCKET | {"parent": other_lake["urn"]}
    assert upgrade_breaks(BASE, [PLATFORM, LAKE, other_lake, reparented]) == [
        f"{BUCKET['urn']}: parent changed from {LAKE['urn']} to {other_lake['urn']}"
    ]


def test_protect_change_is_reported() -> None:
    assert upgrade_breaks(BASE, [PLATFORM, LAKE, BUCKET | {"protect": False}]) == [
        f"{BUCKET['urn']}: protect changed from True to False"
    ]


def test_every_break_is_listed_in_lower_order() -> None:
    higher = [PLATFORM | {"protect": True}, BUCKET | {"type": "t", "parent": None}]
    breaks = upgrade_breaks(BASE, higher)
    assert [b.split(": ", 1)[0] for b in breaks] == [
        PLATFORM["urn"],
        LAKE["urn"],
        BUCKET["urn"],
        BUCKET["urn"],
    ]
    assert "missing" in breaks[1]
    assert "type changed" in breaks[2]
    assert "parent changed" in breaks[3]


# --- upgrade_breaks on the blueprint and on the level stacks -------------------------------


def _existing_levels() -> list[int]:
    levels = []
    for level in LEVELS:
        try:
            find_level_stack(level)
        except UsageError:
            continue
        levels.append(level)
    return levels


def _inventory(result: RenderResult) -> list[dict[str, Any]]:
    inventory: list[dict[str, Any]] = json.loads(
        (result.files.out_dir / "inventory.json").read_text()
    )
    return inventory


@pytest.fixture(scope="module")
def blueprint_inventories() -> dict[tuple[int, str], list[dict[str, Any]]]:
    """Every level of the blueprint on each target, each with its own level's stack config
    (higher levels need more settings: CI/CD from Level 2, a budget at Level 4 on aws)."""
    found: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for target in TARGETS:
        for level in LEVELS:
            raw = load_stack_config(find_level_stack(level), target, CONFIG_NAMESPACE)
            config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
            capture = run_program(
                lambda level=level: deploy_level(level),
                project=CONFIG_NAMESPACE,
                stack=target,
                config=config,
            )
            assert capture.stack_outputs["level"] == level
            found[(level, target)] = [asdict(r) for r in capture.registrations]
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_blueprint_moves_up_every_level_in_place(
    target: str, blueprint_inventories: dict[tuple[int, str], list[dict[str, Any]]]
) -> None:
    for lower, higher in itertools.pairwise(LEVELS):
        breaks = upgrade_breaks(
            blueprint_inventories[(lower, target)], blueprint_inventories[(higher, target)]
        )
        assert breaks == [], f"L{lower} -> L{higher} on {target}:\n" + "\n".join(breaks)


def test_upgrade_breaks_sees_a_real_change_of_target(
    blueprint_inventories: dict[tuple[int, str], list[dict[str, Any]]],
) -> None:
    # Same stack name, other target: the kind-only resources would all be deleted.
    kind = blueprint_inventories[(1, "kind")]
    aws = [
        entry | {"urn": entry["urn"].replace("urn:pulumi:aws::", "urn:pulumi:kind::")}
        for entry in blueprint_inventories[(1, "aws")]
    ]
    missing = {b.split(": ", 1)[0] for b in upgrade_breaks(kind, aws) if "missing" in b}
    assert any(urn.endswith("::object-store") for urn in missing)
    assert any(urn.endswith("::data-lake-raw-create-bucket") for urn in missing)


@pytest.mark.parametrize("target", TARGETS)
def test_level_stacks_upgrade_in_place(target: str, render_level: RenderFn) -> None:
    levels = _existing_levels()
    pairs = list(itertools.pairwise(levels))
    if not pairs:
        pytest.skip("needs two level stacks")
    for lower, higher in pairs:
        low, high = render_level(lower, target), render_level(higher, target)
        assert low.stack == high.stack == target
        breaks = upgrade_breaks(_inventory(low), _inventory(high))
        assert breaks == [], f"L{lower} -> L{higher} on {target}:\n" + "\n".join(breaks)


def test_every_level_stack_is_the_same_project() -> None:
    levels = _existing_levels()
    assert levels, "at least one level stack exists"
    for level in levels:
        stack_dir = find_level_stack(level)
        project = yaml.safe_load((stack_dir / "Pulumi.yaml").read_text())
        assert project["name"] == "mlops-platform" == CONFIG_NAMESPACE, stack_dir
        for stack_file in sorted(stack_dir.glob("Pulumi.*.yaml")):
            keys = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
            # Provider settings (aws:region) are the only other namespace a stack may set.
            foreign = [
                k for k in keys if not str(k).startswith((f"{CONFIG_NAMESPACE}:", "aws:region"))
            ]
            assert foreign == [], f"{stack_file}: keys outside {CONFIG_NAMESPACE}: {foreign}"
