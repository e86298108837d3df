"""The platform specification: level, target and target settings, read from stack config."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets import TARGET_NAMES, AwsSettings, KindSettings

from ._allocation import validate_label_value
from ._levels import Level, LevelFeatures, features_for_level, parse_level

__all__ = [
    "CONFIG_NAMESPACE",
    "BudgetSettings",
    "CiCdSettings",
    "EndpointSettings",
    "MonitoringSettings",
    "PlatformSpec",
    "PolicySettings",
    "ReceiverSettings",
    "SuppressionSettings",
    "config_errors",
    "load_spec",
    "parse_policy_settings",
]

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


_CAMEL = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class SlackReceiverSettings(BaseModel):
    """``components/monitoring`` ``SlackReceiver``: ``name``, ``webhookSecretName``,
    ``webhookSecretKey`` (url), ``channel``."""

    model_config = _CAMEL
    name: str
    webhook_secret_name: str
    webhook_secret_key: str = "url"
    channel: str | None = None


class WebhookReceiverSettings(BaseModel):
    """``WebhookReceiver``: ``name``, ``urlSecretName``, ``urlSecretKey`` (url), ``port``."""

    model_config = _CAMEL
    name: str
    url_secret_name: str
    url_secret_key: str = "url"
    port: int = 443


class EmailReceiverSettings(BaseModel):
    """``EmailReceiver``: ``name``, ``to``, ``fromAddress``, ``smarthost``, ``authUsername``,
    ``passwordSecretName``, ``passwordSecretKey`` (password)."""

    model_config = _CAMEL
    name: str
    to: str
    from_address: str
    smarthost: str
    auth_username: str | None = None
    password_secret_name: str | None = None
    password_secret_key: str = "password"


class ReceiverSettings(BaseModel):
    """Where one severity's alerts go: exactly one of ``slack``, ``webhook`` or ``email``."""

    model_config = _CAMEL
    slack: SlackReceiverSettings | None = None
    webhook: WebhookReceiverSettings | None = None
    email: EmailReceiverSettings | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReceiverSettings:
        chosen = [k for k in ("slack", "webhook", "email") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("set exactly one of slack, webhook or email")
        return self


class MonitoringSettings(BaseModel):
    """``mlops-platform:monitoring`` (Level 2 on): sizes, alert receivers and thresholds.

    Keys are ``MonitoringStackArgs`` fields in camelCase (``retentionDays``,
    ``storageSizeGib``, ``storageClassName``, ``scrapeIntervalSeconds``,
    ``criticalReceiver``, ``warningReceiver``); ``thresholds`` are ``AlertThresholds`` fields
    (``servingLatencyP95Seconds`` ...).
    """

    model_config = _CAMEL
    retention_days: int = 15
    retention_size_gib: int | None = None
    storage_size_gib: int = 50
    storage_class_name: str | None = None
    scrape_interval_seconds: int = 30
    critical_receiver: ReceiverSettings | None = None
    warning_receiver: ReceiverSettings | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)


class BudgetSettings(BaseModel):
    """``mlops-platform:budget`` (Level 4 on aws): the monthly AWS budget and who is alerted.

    ``monthlyLimitUsd``, ``emailAddresses``, ``snsTopicArn``, ``actualThresholdsPercent``
    (80, 100) and ``forecastedThresholdsPercent`` (100), as ``BudgetAlertsArgs``.
    """

    model_config = _CAMEL
    monthly_limit_usd: float
    email_addresses: tuple[str, ...] = ()
    sns_topic_arn: str | None = None
    actual_thresholds_percent: tuple[float, ...] = (80.0, 100.0)
    forecasted_thresholds_percent: tuple[float, ...] = (100.0,)


class CiCdSettings(BaseModel):
    """``mlops-platform:cicd`` (Level 2 on): who may deploy, and where GitOps reads from.

    - ``repository``: the model repository (``OWNER/REPO``) whose GitHub Actions runs may
      assume the CI role (aws).
    - ``branches`` (main): branches of it trusted; ``environments`` (none): deployment
      environments trusted.
    - ``gitopsRepoUrl``: the GitOps repository Argo CD syncs (``https://`` or SSH).
    - ``gitopsRevision`` (main) and ``gitopsPath`` (apps): what the root application tracks.
    """

    model_config = _CAMEL
    repository: str
    branches: tuple[str, ...] = ("main",)
    environments: tuple[str, ...] = ()
    gitops_repo_url: str
    gitops_revision: str = "main"
    gitops_path: str = "apps"


PolicyEnforcement = Literal["advisory", "mandatory"]
RuleEnforcement = Literal["advisory", "mandatory", "disabled"]
# A suppression's reason is read by auditors: a word or two ("ok", "todo") says nothing.
MIN_SUPPRESSION_REASON_CHARS = 10


class SuppressionSettings(BaseModel):
    """One accepted policy violation: ``rule``, ``resource`` (its Pulumi name or URN) and
    ``reason`` (why it is accepted, at least ``MIN_SUPPRESSION_REASON_CHARS`` characters)."""

    model_config = _CAMEL
    rule: str
    resource: str
    reason: str = ""


class PolicySettings(BaseModel):
    """``mlops-platform:policies``: how the policy rules apply to this stack.

    - ``enforcement``: ``advisory`` or ``mandatory`` for every rule; unset, the level decides
      (mandatory at Level 4, advisory below).
    - ``rules``: rule name -> ``advisory``, ``mandatory`` or ``disabled``, over ``enforcement``.
    - ``suppressions``: accepted violations, each ``{rule, resource, reason}``; they stay in
      every report with their reason.
    """

    model_config = _CAMEL
    enforcement: PolicyEnforcement | None = None
    rules: dict[str, RuleEnforcement] = Field(default_factory=dict)
    suppressions: tuple[SuppressionSettings, ...] = ()


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
    monitoring: MonitoringSettings = MonitoringSettings()
    budget: BudgetSettings | None = None
    cicd: CiCdSettings | None = None
    policies: PolicySettings = PolicySettings()

    @property
    def features(self) -> LevelFeatures:
        return features_for_level(self.level)

    def physical_name(self, suffix: str) -> str:
        return f"{self.name}-{self.environment}-{suffix}"


@contextmanager
def config_errors(key: str, *, rename: dict[str, str] | None = None) -> Iterator[None]:
    """Re-key a component's error to the stack config key it came from.

    ``retention_days`` raised by ``MonitoringStackArgs`` under ``monitoring`` becomes
    ``mlops-platform:monitoring.retentionDays``, so the message says what to set. ``rename``
    maps an argument whose config key differs (``repo_url`` -> ``gitops_repo_url``).
    """
    try:
        yield
    except BlueprintConfigError as error:
        if error.field.startswith(f"{CONFIG_NAMESPACE}:"):
            raise  # already names its config key (an inner section)
        head, dot, rest = error.field.partition(".")
        field = (rename or {}).get(head, head) + dot + rest
        path = ".".join(to_camel(part) for part in field.split("."))
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:{key}.{path}", error.value, error.fix
        ) from None


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


def _closest(name: str, known: Collection[str]) -> str:
    match = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (closest: {match[0]!r})" if match else ""


def parse_policy_settings(raw: object, *, rule_names: Collection[str] | None) -> PolicySettings:
    """Validate ``mlops-platform:policies``; ``rule_names`` (when known) are the valid rules.

    Every suppression needs a reason an auditor can read, and may name only a known rule.
    """
    key = "policies"
    field = f"{CONFIG_NAMESPACE}:{key}"
    if raw is None:
        return PolicySettings()
    if not isinstance(raw, Mapping):
        raise BlueprintConfigError(
            field,
            raw,
            "Give an object, e.g. {enforcement: mandatory, rules: {<rule>: advisory}, "
            "suppressions: [{rule: <rule>, resource: <name>, reason: <why>}]}.",
        )
    raw_suppressions = raw.get("suppressions") or []
    if not isinstance(raw_suppressions, list):
        raise BlueprintConfigError(
            f"{field}.suppressions",
            raw_suppressions,
            "Give a list of {rule, resource, reason} objects.",
        )
    suppressions = []
    for index, item in enumerate(raw_suppressions):
        where = f"{key}.suppressions[{index}]"
        try:
            suppression = SuppressionSettings.model_validate(item)
        except ValidationError as error:
            raise _fail_from_validation(error, key=where) from None
        if len(suppression.reason.strip()) < MIN_SUPPRESSION_REASON_CHARS:
            raise BlueprintConfigError(
                f"{CONFIG_NAMESPACE}:{where}.reason",
                suppression.reason,
                f"Say why this violation is accepted, in at least {MIN_SUPPRESSION_REASON_CHARS} "
                "characters (e.g. 'scanner needs the public endpoint until the VPN lands').",
            )
        if rule_names is not None and suppression.rule not in rule_names:
            raise BlueprintConfigError(
                f"{CONFIG_NAMESPACE}:{where}.rule",
                suppression.rule,
                "Name a policy rule listed in docs/policies.md"
                f"{_closest(suppression.rule, rule_names)}.",
            )
        suppressions.append(suppression)
    try:
        settings = PolicySettings.model_validate({**raw, "suppressions": suppressions})
    except ValidationError as error:
        raise _fail_from_validation(error, key=key) from None
    if rule_names is not None:
        for name in settings.rules:
            if name not in rule_names:
                raise BlueprintConfigError(
                    f"{field}.rules",
                    name,
                    f"Name a policy rule listed in docs/policies.md{_closest(name, rule_names)}.",
                )
    return settings


def _policy_rule_names() -> frozenset[str] | None:
    """Names of every policy rule, or None where the policy SDK is not installed.

    The core install has no policy SDK; there the names are checked by ``mlops-bp check`` and
    the policy pack, which both need it.
    """
    try:
        from mlops_blueprints.policies import ALL_RULES  # noqa: PLC0415 - optional, heavy
    except ModuleNotFoundError as error:
        if error.name != "pulumi_policy":
            raise
        return None
    return frozenset(rule.name for rule in ALL_RULES)


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
    sections: dict[str, Any] = {}
    for key, model in (
        ("monitoring", MonitoringSettings),
        ("budget", BudgetSettings),
        ("cicd", CiCdSettings),
    ):
        raw_section = cfg.get_object(key)
        if raw_section is None:
            continue
        try:
            sections[key] = model.model_validate(raw_section)
        except ValidationError as error:
            raise _fail_from_validation(error, key=key) from None
    raw_policies = cfg.get_object("policies")
    if raw_policies is not None:
        sections["policies"] = parse_policy_settings(raw_policies, rule_names=_policy_rule_names())
    return PlatformSpec(
        level=parsed_level,
        **sections,
        endpoints=tuple(endpoints),
        target=target,
        name=name,
        environment=environment,
        team=validate_label_value(cfg.get("team") or "platform", field=f"{CONFIG_NAMESPACE}:team"),
        **settings,
    )


def spec_as_json(spec: PlatformSpec) -> str:
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True)
