"""GitOps continuous delivery: Argo CD, locked-down projects and an app-of-apps root."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints import versions
from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import validate_dns_label

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import text
from ..kubernetes import (
    METADATA_ENDPOINT_CIDR,
    WorkloadNamespace,
    WorkloadNamespaceArgs,
    namespace_pod_peer,
    object_name,
)
from ..node_pools._charts import chart_args
from ._plan import (
    ARGOCD_METRICS_PORTS,
    DEFAULT_NAMESPACE_RESOURCE_KINDS,
    ArgoCdChartPlan,
    app_project_spec,
    argocd_chart_values,
    locked_default_project_spec,
    parse_resource_kind,
    root_application_spec,
    root_project_spec,
    validate_destination_namespace,
    validate_git_path,
    validate_repo_url,
    validate_revision,
)

__all__ = ["ArgoCd", "ArgoCdArgs"]

RELEASE_NAME = "argocd"
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
# Chart components by their pod label ``app.kubernetes.io/name`` (``argocd-<component>``).
_KUBE_API_CLIENTS = (
    "argocd-application-controller",
    "argocd-applicationset-controller",
    "argocd-redis-secret-init",
    "argocd-server",
)
_GIT_CLIENTS = ("argocd-repo-server",)
_DEX = "argocd-dex-server"


def _validate_labels(labels: dict[str, str], *, field: str) -> None:
    for key, value in labels.items():
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise BlueprintConfigError(
                field,
                {key: value},
                "Use Kubernetes label syntax: an optional DNS prefix and '/', then up to 63 "
                "letters, digits, '-', '_' or '.' (e.g. {'release': 'kube-prometheus-stack'}).",
            )


@dataclass(frozen=True)
class ArgoCdArgs:
    """Arguments for :class:`ArgoCd`.

    - ``repo_url``: the GitOps repository (``https://`` or SSH) holding Application manifests.
    - ``destination_namespaces``: namespaces model Applications may deploy to (at least one;
      never Argo CD's own or a system namespace).
    - ``revision`` (main): branch, tag or commit the root application tracks.
    - ``path`` (apps): directory of the repository with the child Application manifests.
    - ``source_repos`` (none): further repositories model Applications may use, besides
      ``repo_url``; exact URLs, no wildcards.
    - ``namespace_resource_kinds`` (InferenceService, ConfigMap): the only namespaced kinds
      model Applications may create, as ``group/Kind`` (``Kind`` for the core group); no
      cluster-scoped kinds at all.
    - ``namespace`` (argocd): Argo CD's namespace, created here (restricted, default deny).
    - ``project_name`` (models): the AppProject for model Applications.
    - ``root_app_name`` (root): the root Application and its AppProject.
    - ``enable_automated_sync`` (on): sync the root application when git changes.
    - ``enable_prune`` (on): delete child Applications removed from git (automated sync).
    - ``enable_self_heal`` (on): revert changes made in the cluster (automated sync).
    - ``enable_admin_user`` (off): Argo CD's local ``admin`` with a generated password (only
      its bcrypt hash reaches the cluster); off means no local login at all.
    - ``dex_config`` (none): Dex connector configuration (YAML); Dex runs only when set.
    - ``external_url`` (none): the https URL users reach Argo CD at; required with Dex.
    - ``rbac_policy_csv`` (empty): Argo CD RBAC policy; the default role grants nothing.
    - ``prometheus_operator`` (none): the resource installing the ``monitoring.coreos.com``
      CRDs; when set, metrics and ServiceMonitors are on and the release waits for it.
    - ``monitor_labels`` (none): labels Prometheus selects ServiceMonitors by; required with
      ``prometheus_operator``.
    - ``monitoring_namespace`` (monitoring): Prometheus' namespace, admitted to metrics ports.
    - ``labels``: extra labels on every object (not ``app.kubernetes.io/*``: the chart sets those).
    """

    repo_url: str
    destination_namespaces: Sequence[str]
    revision: str = "main"
    path: str = "apps"
    source_repos: Sequence[str] = ()
    namespace_resource_kinds: Sequence[str] = DEFAULT_NAMESPACE_RESOURCE_KINDS
    namespace: str = "argocd"
    project_name: str = "models"
    root_app_name: str = "root"
    enable_automated_sync: bool = True
    enable_prune: bool = True
    enable_self_heal: bool = True
    enable_admin_user: bool = False
    dex_config: str | None = None
    external_url: str | None = None
    rbac_policy_csv: str = ""
    prometheus_operator: pulumi.Resource | None = None
    monitor_labels: dict[str, str] = field(default_factory=dict)
    monitoring_namespace: str = "monitoring"
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_repo_url(self.repo_url, field="repo_url")
        validate_dns_label(self.namespace, field="namespace")
        if not self.destination_namespaces:
            raise BlueprintConfigError(
                "destination_namespaces",
                tuple(self.destination_namespaces),
                "Name the namespaces model Applications deploy to (e.g. ('serving',)); a "
                "project with no destination can deploy nothing.",
            )
        for namespace in self.destination_namespaces:
            validate_dns_label(namespace, field="destination_namespaces")
            validate_destination_namespace(namespace, argocd_namespace=self.namespace)
        validate_revision(self.revision)
        validate_git_path(self.path)
        for url in self.source_repos:
            validate_repo_url(url, field="source_repos")
        if not self.namespace_resource_kinds:
            raise BlueprintConfigError(
                "namespace_resource_kinds",
                tuple(self.namespace_resource_kinds),
                "Allow at least one kind (e.g. 'serving.kserve.io/InferenceService').",
            )
        kinds = [parse_resource_kind(k) for k in self.namespace_resource_kinds]
        if len(set(kinds)) != len(kinds):
            raise BlueprintConfigError(
                "namespace_resource_kinds",
                tuple(self.namespace_resource_kinds),
                "List each kind once.",
            )
        for field_name in ("project_name", "root_app_name"):
            validate_dns_label(getattr(self, field_name), field=field_name)
        if self.project_name == self.root_app_name or "default" in (
            self.project_name,
            self.root_app_name,
        ):
            raise BlueprintConfigError(
                "project_name",
                self.project_name,
                "Give the model project and the root application different names, neither "
                "'default' (Argo CD's built-in project, which this component locks).",
            )
        if (self.enable_prune or self.enable_self_heal) and not self.enable_automated_sync:
            raise BlueprintConfigError(
                "enable_automated_sync",
                False,
                "Pruning and self-healing act during automated sync: turn it on, or set "
                "enable_prune=False and enable_self_heal=False.",
            )
        if self.external_url is not None and not re.match(
            r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$", self.external_url
        ):
            raise BlueprintConfigError(
                "external_url",
                self.external_url,
                "Use the https URL users open Argo CD at (e.g. 'https://argocd.example.com').",
            )
        if self.dex_config is not None:
            if not self.dex_config.strip():
                raise BlueprintConfigError(
                    "dex_config",
                    self.dex_config,
                    "Give Dex's connector configuration (YAML), or leave it unset to run no Dex.",
                )
            if self.external_url is None:
                raise BlueprintConfigError(
                    "external_url",
                    None,
                    "Dex redirects users back to Argo CD: set external_url "
                    "(e.g. 'https://argocd.example.com').",
                )
        validate_dns_label(self.monitoring_namespace, field="monitoring_namespace")
        _validate_labels(self.monitor_labels, field="monitor_labels")
        if self.prometheus_operator is not None and not self.monitor_labels:
            raise BlueprintConfigError(
                "monitor_labels",
                self.monitor_labels,
                "Name the labels your Prometheus selects ServiceMonitors by (e.g. "
                "{'release': 'kube-prometheus-stack'}).",
            )
        _validate_labels(self.labels, field="labels")
        if any(key.startswith("app.kubernetes.io/") for key in self.labels):
            raise BlueprintConfigError(
                "labels",
                dict(self.labels),
                "The chart sets the app.kubernetes.io/* labels itself; use other keys "
                "(e.g. {'team': 'ml-platform'}).",
            )


class ArgoCd(pulumi.ComponentResource):
    """Argo CD (pinned ``argo-cd`` chart), its projects and the app-of-apps root.

    The server is a ClusterIP Service only (reach it with ``kubectl port-forward``), the
    local admin and anonymous users are off unless asked, Dex runs only when configured, and
    every container has requests and a memory limit. Three AppProjects restrict what git can
    deploy: the root project allows only Application objects in Argo CD's namespace from the
    GitOps repository; the model project allows only ``namespace_resource_kinds`` in
    ``destination_namespaces`` from named repositories, and no cluster-scoped object; and the
    built-in ``default`` project is replaced by one that allows nothing, so no Application
    can escape by naming it.

    Children: ``{name}-namespace`` (WorkloadNamespace), NetworkPolicies ``{name}-internal``,
    ``{name}-kube-api-egress``, ``{name}-git-egress`` (and ``{name}-metrics-ingress`` with
    metrics), ``{name}-secret`` (``argocd-secret``), ``{name}-release`` (Helm), the
    AppProjects ``{name}-default-project``, ``{name}-root-project`` and ``{name}-project``,
    and ``{name}-root-app`` (Application); with ``enable_admin_user`` also
    ``{name}-admin-password`` (random).
    """

    namespace_name: pulumi.Output[str]
    server_service_name: pulumi.Output[str]
    project_name: pulumi.Output[str]
    root_app_name: pulumi.Output[str]
    admin_password: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ArgoCdArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cicd:ArgoCd", name, None, opts)
        labels = standard_labels("argocd", instance=args.namespace, extra=args.labels)
        enable_metrics = args.prometheus_operator is not None
        self.namespace = WorkloadNamespace(
            f"{name}-namespace",
            WorkloadNamespaceArgs(namespace=args.namespace, labels=dict(args.labels)),
            opts=child_opts(self),
        )
        namespace = self.namespace.namespace_name

        def policy(suffix: str, spec: dict[str, Any]) -> k8s.networking.v1.NetworkPolicy:
            return k8s.networking.v1.NetworkPolicy(
                f"{name}-{suffix}",
                metadata={"name": f"argocd-{suffix}", "namespace": namespace, "labels": labels},
                spec=spec,
                opts=child_opts(self),
            )

        internet = [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [METADATA_ENDPOINT_CIDR]}}]
        api_clients = [*_KUBE_API_CLIENTS, *([_DEX] if args.dex_config is not None else [])]
        policies = [
            # Argo CD's components talk to each other (server, repo server, Redis, Dex).
            policy(
                "internal",
                {
                    "podSelector": {},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [{"from": [{"podSelector": {}}]}],
                    "egress": [{"to": [{"podSelector": {}}]}],
                },
            ),
            # The Kubernetes API (443 on EKS, 6443 on kind); Dex also reaches its IdP on 443.
            policy(
                "kube-api-egress",
                {
                    "podSelector": _name_in(api_clients),
                    "policyTypes": ["Egress"],
                    "egress": [{"to": internet, "ports": _tcp(443, 6443)}],
                },
            ),
            # Only the repo server fetches from git, over HTTPS or SSH.
            policy(
                "git-egress",
                {
                    "podSelector": _name_in(_GIT_CLIENTS),
                    "policyTypes": ["Egress"],
                    "egress": [{"to": internet, "ports": _tcp(443, 22)}],
                },
            ),
        ]
        if enable_metrics:
            prometheus = namespace_pod_peer(
                args.monitoring_namespace, {"app.kubernetes.io/name": "prometheus"}
            )
            policies.append(
                policy(
                    "metrics-ingress",
                    {
                        "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "argocd"}},
                        "policyTypes": ["Ingress"],
                        "ingress": [
                            {
                                "from": [prometheus],
                                "ports": _tcp(*sorted(ARGOCD_METRICS_PORTS.values())),
                            }
                        ],
                    },
                )
            )

        # argocd-secret: Argo CD adds its own signing key on start; only the admin password
        # (as a bcrypt hash) comes from here, and only when the admin user is on.
        self.admin_password = None
        secret_data: dict[str, pulumi.Input[str]] = {}
        if args.enable_admin_user:
            password = random.RandomPassword(
                f"{name}-admin-password", length=32, special=False, opts=child_opts(self)
            )
            self.admin_password = pulumi.Output.secret(password.result.apply(text))
            secret_data["admin.password"] = pulumi.Output.secret(password.bcrypt_hash.apply(text))
        settings_secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={
                "name": "argocd-secret",
                "namespace": namespace,
                # Argo CD reads its settings only from objects carrying this label.
                "labels": {**labels, "app.kubernetes.io/part-of": "argocd"},
            },
            type="Opaque",
            string_data=secret_data,
            opts=child_opts(self),
        )
        values = argocd_chart_values(
            ArgoCdChartPlan(
                enable_metrics=enable_metrics,
                monitor_labels=args.monitor_labels,
                enable_admin_user=args.enable_admin_user,
                dex_config=args.dex_config,
                external_url=args.external_url,
                rbac_policy_csv=args.rbac_policy_csv,
                labels=args.labels,
            )
        )
        # The chart's hook Job and pods start only once their egress is declared; with
        # metrics, the ServiceMonitor CRD must exist first.
        release_deps: list[pulumi.Resource] = [*policies, settings_secret]
        if args.prometheus_operator is not None:
            release_deps.append(args.prometheus_operator)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            namespace=namespace,
            values=values,
            opts=child_opts(self, depends_on=release_deps),
            **chart_args(versions.CHARTS["argo-cd"]),
        )

        def custom(
            suffix: str, kind: str, resource_name: str, spec: dict[str, Any], **extra: Any
        ) -> k8s.apiextensions.CustomResource:
            metadata: dict[str, Any] = {
                "name": resource_name,
                "namespace": namespace,
                "labels": labels,
                **extra,
            }
            return k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version="argoproj.io/v1alpha1",
                kind=kind,
                metadata=metadata,
                spec=spec,
                opts=child_opts(self, depends_on=[self.release]),
            )

        # Argo CD creates "default" at start-up; take its fields over rather than fail.
        custom(
            "default-project",
            "AppProject",
            "default",
            locked_default_project_spec(),
            annotations={"pulumi.com/patchForce": "true"},
        )
        root_project = custom(
            "root-project",
            "AppProject",
            args.root_app_name,
            root_project_spec(repo_url=args.repo_url, argocd_namespace=args.namespace),
        )
        custom(
            "project",
            "AppProject",
            args.project_name,
            app_project_spec(
                source_repos=[args.repo_url, *args.source_repos],
                destination_namespaces=args.destination_namespaces,
                kinds=[parse_resource_kind(k) for k in args.namespace_resource_kinds],
                description="Model deployments: named kinds in named namespaces only.",
            ),
        )
        root_app = k8s.apiextensions.CustomResource(
            f"{name}-root-app",
            api_version="argoproj.io/v1alpha1",
            kind="Application",
            metadata={"name": args.root_app_name, "namespace": namespace, "labels": labels},
            spec=root_application_spec(
                project=args.root_app_name,
                repo_url=args.repo_url,
                revision=args.revision,
                path=args.path,
                argocd_namespace=args.namespace,
                enable_automated_sync=args.enable_automated_sync,
                enable_prune=args.enable_prune,
                enable_self_heal=args.enable_self_heal,
            ),
            opts=child_opts(self, depends_on=[self.release, root_project]),
        )
        self.namespace_name = namespace
        self.server_service_name = self.release.status.apply(lambda _: f"{RELEASE_NAME}-server")
        self.project_name = pulumi.Output.from_input(args.project_name)
        self.root_app_name = object_name(root_app)
        self.register_outputs(
            {
                "namespace_name": self.namespace_name,
                "server_service_name": self.server_service_name,
                "project_name": self.project_name,
                "root_app_name": self.root_app_name,
                "admin_password": self.admin_password,
            }
        )


def _name_in(names: Sequence[str]) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "In", "values": sorted(names)}
        ]
    }


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]
