"""The platform specification: level, target and target settings, read from stack config."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, ValidationError

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets import TARGET_NAMES, AwsSettings, KindSettings

from ._levels import Level, LevelFeatures, features_for_level, parse_level

__all__ = ["CONFIG_NAMESPACE", "PlatformSpec", "load_spec"]

# Every level's stack is the same Pulumi project, so every level reads the same keys.
CONFIG_NAMESPACE = "mlops-platform"
TargetName = Literal["aws", "kind"]
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")


class PlatformSpec(BaseModel):
    """Everything that shapes one platform: level, target, names and target settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Level
    target: TargetName
    # Prefix of physical names (buckets, roles); must be unique per account on aws.
    name: str = "mlops"
    environment: str = "dev"
    team: str = "platform"
    aws: AwsSettings | None = None
    kind: KindSettings | None = None

    @property
    def features(self) -> LevelFeatures:
        return features_for_level(self.level)

    def physical_name(self, suffix: str) -> str:
        return f"{self.name}-{self.environment}-{suffix}"


def _fail_from_validation(error: ValidationError, *, key: str) -> BlueprintConfigError:
    first = error.errors()[0]
    path = ".".join(str(p) for p in first["loc"])
    field = f"{CONFIG_NAMESPACE}:{key}" + (f".{path}" if path else "")
    if first["type"] == "missing":
        fix = f"Set it: pulumi config set --path '{key}.{path}' <value>."
    elif first["type"] == "extra_forbidden":
        fix = "Remove this unknown setting (check its spelling against docs/configuration.md)."
    else:
        fix = first["msg"] + "."
    return BlueprintConfigError(field, first.get("input"), fix)


def load_spec(level: Level | int | str, config: pulumi.Config | None = None) -> PlatformSpec:
    """Read and validate the stack configuration for ``level``. Raises before any resource."""
    cfg = config or pulumi.Config(CONFIG_NAMESPACE)
    parsed_level = parse_level(level)
    target = cfg.get("target") or "kind"
    if target not in TARGET_NAMES:
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:target", target, f"Use one of: {', '.join(TARGET_NAMES)}."
        )
    name = cfg.get("name") or "mlops"
    if not _NAME.match(name):
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:name",
            name,
            "Use 3-24 lowercase letters, digits or '-', starting with a letter (e.g. 'acme-ml').",
        )
    environment = cfg.get("environment") or "dev"
    if not _NAME.match(environment):
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:environment",
            environment,
            "Use 3-24 lowercase letters, digits or '-', starting with a letter (e.g. 'prod').",
        )
    settings: dict[str, Any] = {}
    raw = cfg.get_object(target)
    try:
        if target == "aws":
            settings["aws"] = AwsSettings.model_validate(raw or {})
        else:
            settings["kind"] = KindSettings.model_validate(raw or {})
    except ValidationError as error:
        raise _fail_from_validation(error, key=target) from None
    return PlatformSpec(
        level=parsed_level,
        target=target,
        name=name,
        environment=environment,
        team=cfg.get("team") or "platform",
        **settings,
    )


def spec_as_json(spec: PlatformSpec) -> str:
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True)
