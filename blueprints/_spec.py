"""The platform specification: level, target and target settings, read from stack config."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets import TARGET_NAMES, AwsSettings, KindSettings

from ._allocation import validate_label_value
from ._levels import Level, LevelFeatures, features_for_level, parse_level

__all__ = ["CONFIG_NAMESPACE", "EndpointSettings", "PlatformSpec", "load_spec"]

# Every level's stack is the same Pulumi project, so every level reads the same keys.
CONFIG_NAMESPACE = "mlops-platform"
TargetName = Literal["aws", "kind"]
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")


class EndpointSettings(BaseModel):
    """One model served from Level 2 on (``mlops-platform:endpoints``, a list).

    - ``name``: the InferenceService name (an RFC 1123 label).
    - ``model_uri``: ``models:/<name>@<alias>`` or ``models:/<name>/<version>``.
    - ``storage_uri``: where the model files are (an ``s3://`` URI on the data lake); when unset,
      ``tracking_uri`` is asked at deploy time.
    - ``tracking_uri``: an MLflow registry reachable from where ``pulumi up`` runs (e.g. a
      port-forward); required when ``storage_uri`` is unset.
    - ``runtime`` (sklearn), ``hardware_class`` (cpu), ``accelerators`` (1), ``cpu_request``
      (1), ``memory_request_mib`` (2048), ``memory_limit_mib`` (4096), ``min_replicas`` (1),
      ``max_replicas`` (3), ``autoscaling_metric``, ``autoscaling_target``,
      ``canary_traffic_percent``: as ``InferenceEndpointArgs``.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    name: str
    model_uri: str
    storage_uri: str | None = None
    tracking_uri: str | None = None
    runtime: Literal["sklearn", "xgboost"] = "sklearn"
    hardware_class: Literal["cpu", "nvidia-gpu", "neuron"] = "cpu"
    accelerators: int = 1
    cpu_request: str = "1"
    memory_request_mib: int = 2048
    memory_limit_mib: int = 4096
    min_replicas: int = 1
    max_replicas: int = 3
    autoscaling_metric: Literal["concurrency", "rps", "cpu"] | None = None
    autoscaling_target: int | None = None
    canary_traffic_percent: int | None = None


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
    endpoints: tuple[EndpointSettings, ...] = ()

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
    raw_endpoints = cfg.get_object("endpoints") or []
    if not isinstance(raw_endpoints, list):
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:endpoints",
            raw_endpoints,
            "Give a list of endpoints, e.g. [{name: churn, modelUri: 'models:/churn@champion', "
            "storageUri: 's3://...'}].",
        )
    endpoints = []
    for index, raw_endpoint in enumerate(raw_endpoints):
        try:
            endpoints.append(EndpointSettings.model_validate(raw_endpoint))
        except ValidationError as error:
            raise _fail_from_validation(error, key=f"endpoints[{index}]") from None
    return PlatformSpec(
        level=parsed_level,
        endpoints=tuple(endpoints),
        target=target,
        name=name,
        environment=environment,
        team=validate_label_value(cfg.get("team") or "platform", field=f"{CONFIG_NAMESPACE}:team"),
        **settings,
    )


def spec_as_json(spec: PlatformSpec) -> str:
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True)
