"""Operations services of a level: monitoring and CI/CD (L2), cost allocation (L3) and budgets
(L4 aws).

``plan_operations`` turns the spec into component arguments without registering anything, so a
bad setting fails before the first resource with the stack config key in the message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mlops_blueprints.components.cicd import ArgoCdArgs, GithubActionsRoleArgs
from mlops_blueprints.components.cost import BudgetAlertsArgs
from mlops_blueprints.components.monitoring import (
    AlertReceiver,
    AlertThresholds,
    EmailReceiver,
    MonitoringStackArgs,
    SlackReceiver,
    WebhookReceiver,
)
from mlops_blueprints.components.node_pools import NodePoolSpec
from pydantic.alias_generators import to_snake

from mlops_blueprints.errors import BlueprintConfigError

from ._spec import CONFIG_NAMESPACE, PlatformSpec, ReceiverSettings, config_errors

__all__ = ["OperationsPlan", "plan_operations"]

# Prometheus, Alertmanager and Grafana run on the level's general-purpose pool.
_STACK_POOL = "general"
# Stands in for the GitHub OIDC provider's ARN while planning; the deployed one replaces it.
PLANNED_OIDC_PROVIDER_ARN = (
    "arn:aws:iam::000000000000:oidc-provider/token.actions.githubusercontent.com"
)


@dataclass(frozen=True)
class OperationsPlan:
    """Validated arguments of the operations components a level deploys (None: not at it)."""

    monitoring: MonitoringStackArgs | None
    budget: BudgetAlertsArgs | None
    gitops: ArgoCdArgs | None = None
    ci_role: GithubActionsRoleArgs | None = None


def _receiver(settings: ReceiverSettings | None) -> AlertReceiver | None:
    if settings is None:
        return None
    if settings.slack is not None:
        return SlackReceiver(**settings.slack.model_dump())
    if settings.webhook is not None:
        return WebhookReceiver(**settings.webhook.model_dump())
    assert settings.email is not None  # ReceiverSettings admits exactly one
    return EmailReceiver(**settings.email.model_dump())


def _thresholds(values: dict[str, float]) -> AlertThresholds:
    known = {f.name for f in dataclasses.fields(AlertThresholds)}
    kwargs: dict[str, Any] = {}
    with config_errors("monitoring.thresholds"):
        for key, value in values.items():
            name = to_snake(key)
            if name not in known:
                raise BlueprintConfigError(
                    name,
                    value,
                    "Remove this unknown threshold; the thresholds are "
                    f"{', '.join(sorted(known))} (in camelCase in stack config).",
                )
            kwargs[name] = value
        return AlertThresholds(**kwargs)


def _monitoring(spec: PlatformSpec, pools: tuple[NodePoolSpec, ...]) -> MonitoringStackArgs:
    settings = spec.monitoring
    features = spec.features
    with config_errors("monitoring"):
        network: dict[str, Any] = {}
        if spec.aws is not None:
            # Nodes, pods (VPC CNI) and the API endpoint's interfaces all live in the VPC.
            network["cluster_network_cidrs"] = (spec.aws.vpc_cidr,)
        return MonitoringStackArgs(
            thresholds=_thresholds(settings.thresholds),
            enable_accelerator_monitoring=features.enable_accelerator_metrics,
            enable_feature_store_monitoring=features.enable_feature_store,
            enable_cost_dashboard=features.enable_cost_allocation,
            node_pools=pools,
            stack_pool_name=_STACK_POOL if any(p.name == _STACK_POOL for p in pools) else None,
            retention_days=settings.retention_days,
            retention_size_gib=settings.retention_size_gib,
            storage_size_gib=settings.storage_size_gib,
            storage_class_name=settings.storage_class_name,
            scrape_interval_seconds=settings.scrape_interval_seconds,
            enable_high_availability=features.enable_high_availability,
            critical_receiver=_receiver(settings.critical_receiver),
            warning_receiver=_receiver(settings.warning_receiver),
            **network,
        )


def _budget(spec: PlatformSpec) -> BudgetAlertsArgs | None:
    if spec.budget is not None and spec.target != "aws":
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:budget",
            spec.budget.model_dump(by_alias=True),
            "Budgets are AWS Budgets; remove this setting on the kind target.",
        )
    if not (spec.features.enable_budgets and spec.target == "aws"):
        return None
    if spec.budget is None:
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:budget",
            None,
            f"Level {spec.level} on aws enforces a monthly budget with alerts: set "
            "budget.monthlyLimitUsd and budget.emailAddresses (or budget.snsTopicArn).",
        )
    with config_errors("budget"):
        return BudgetAlertsArgs(
            budget_name=spec.physical_name("monthly"),
            tag_values=(spec.environment,),
            **spec.budget.model_dump(),
        )


_GITOPS_KEYS = {
    "repo_url": "gitops_repo_url",
    "revision": "gitops_revision",
    "path": "gitops_path",
}


def _ci_cd(
    spec: PlatformSpec, model_namespace: str
) -> tuple[ArgoCdArgs | None, GithubActionsRoleArgs | None]:
    if not spec.features.enable_ci_cd:
        if spec.cicd is not None:
            raise BlueprintConfigError(
                f"{CONFIG_NAMESPACE}:cicd",
                spec.cicd.repository,
                f"Level {spec.level} has no CI/CD; it starts at Level 2. Remove the setting.",
            )
        return None, None
    if spec.cicd is None:
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:cicd",
            None,
            f"Level {spec.level} deploys models by GitOps: set cicd.repository (OWNER/REPO of "
            "the model repository) and cicd.gitopsRepoUrl (the repository Argo CD syncs).",
        )
    settings = spec.cicd
    with config_errors("cicd"):
        with config_errors("cicd", rename=_GITOPS_KEYS):
            gitops = ArgoCdArgs(
                repo_url=settings.gitops_repo_url,
                revision=settings.gitops_revision,
                path=settings.gitops_path,
                destination_namespaces=(model_namespace,),
            )
        role = None
        if spec.target == "aws":
            role = GithubActionsRoleArgs(
                identity_name="ci-build",
                oidc_provider_arn=PLANNED_OIDC_PROVIDER_ARN,
                repository=settings.repository,
                branches=settings.branches,
                environments=settings.environments,
            )
    return gitops, role


def plan_operations(
    spec: PlatformSpec, pools: tuple[NodePoolSpec, ...], *, model_namespace: str
) -> OperationsPlan:
    """The operations components' arguments for ``spec``; raises before any registration."""
    monitoring = _monitoring(spec, pools) if spec.features.enable_basic_monitoring else None
    gitops, ci_role = _ci_cd(spec, model_namespace)
    return OperationsPlan(
        monitoring=monitoring, budget=_budget(spec), gitops=gitops, ci_role=ci_role
    )
