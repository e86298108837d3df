"""Run a level program on its stack config with overrides, expecting a config error."""

from __future__ import annotations

import json
from typing import Any

from mlops_blueprints.blueprints import deploy_level
from mlops_blueprints.blueprints._spec import CONFIG_NAMESPACE

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import find_level_stack, load_stack_config, run_program


def stack_config(level: int, target: str, **overrides: Any) -> dict[str, str]:
    """The level stack's config for ``target``; an override of None removes the key."""
    raw = load_stack_config(find_level_stack(level), target, CONFIG_NAMESPACE)
    raw.update({f"{CONFIG_NAMESPACE}:{k}": v for k, v in overrides.items()})
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items() if v is not None}


def config_error(level: int, target: str, **overrides: Any) -> BlueprintConfigError:
    """The BlueprintConfigError the level raises, asserting nothing was registered first."""
    caught: list[BlueprintConfigError] = []

    def program() -> None:
        try:
            deploy_level(level)
        except BlueprintConfigError as error:
            caught.append(error)

    capture = run_program(
        program,
        project=CONFIG_NAMESPACE,
        stack=target,
        config=stack_config(level, target, **overrides),
    )
    assert len(caught) == 1, "the program must fail with a BlueprintConfigError"
    assert capture.registrations == [], "nothing may be registered before the error"
    return caught[0]
