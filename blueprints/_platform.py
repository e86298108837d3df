"""The platform blueprint: a level spec and a target in, the level's components out."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pulumi
from mlops_blueprints.components.cicd import (
    ArgoCd,
    GithubActionsRole,
    GithubOidcProvider,
    GithubOidcProviderArgs,
)
from mlops_blueprints.components.cost import (
    BudgetAlerts,
    CostAllocation,
    CostAllocationArgs,
)
from mlops_blueprints.components.data_lake import DataLake, DataLakeArgs
from mlops_blueprints.components.feature_store import FeatureStore, FeatureStoreArgs
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs
from mlops_blueprints.components.model_registry import ModelRegistry, ModelRegistryArgs
from mlops_blueprints.components.monitoring import (
    MONITOR_LABELS,
    MONITORING_NAMESPACE,
    MonitoringStack,
    service_monitor,
)
from mlops_blueprints.components.node_pools import (
    NodePoolSpec,
    supported_classes,
    validate_pools,
)
from mlops_blueprints.components.object_store import SEAWEEDFS_S3_PORT
from mlops_blueprints.components.pipelines import (
    Pipelines,
    PipelinesArgs,
    allow_pipeline_traffic,
)
from mlops_blueprints.components.serving import (
    InferenceEndpoint,
    InferenceEndpointArgs,
    ServingStack,
    ServingStackArgs,
    parse_model_uri,
    select_pool,
    validate_resources,
    validate_scaling,
)

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets import (
    AwsTarget,
    ContainerRegistryArgs,
    KeyValueStoreArgs,
    KindSettings,
    KindTarget,
    SqlDatabaseArgs,
    Target,
    TargetPosture,
    WorkloadIdentityArgs,
    validate_dns_label,
)

from ._allocation import (
    MODEL_LABEL,
    allocation_labels,
    allocation_transformation,
    validate_label_value,
)
from ._levels import LevelFeatures
from ._operations import OperationsPlan, plan_operations
from ._spec import CONFIG_NAMESPACE, EndpointSettings, PlatformSpec, config_errors

__all__ = [
    "Platform",
    "PlatformArgs",
    "PlatformRequests",
    "deploy_level",
    "level_node_pools",
    "plan_endpoints",
    "platform_requests",
]

PLATFORM_NAMESPACE = "mlops"
# Levels serve in KServe's default mode; Serverless needs Knative, which no level installs.
SERVING_DEPLOYMENT_MODE = "RawDeployment"
# Upstream Kubeflow Pipelines' cluster-wide bindings name this namespace.
PIPELINES_NAMESPACE = "kubeflow"


@dataclass(frozen=True)
class PlatformRequests:
    """The data services a level asks its target for, built (and validated) up front."""

    tracking_database: SqlDatabaseArgs | None
    model_images: ContainerRegistryArgs | None
    online_features: KeyValueStoreArgs | None


def platform_requests(features: LevelFeatures) -> PlatformRequests:
    """Requests are pure data, so a bad one fails before any resource is registered."""
    clients = (PLATFORM_NAMESPACE,)
    return PlatformRequests(
        tracking_database=SqlDatabaseArgs(
            database_name="mlflow",
            purpose="experiment tracking and model registry",
            client_namespaces=clients,
        )
        if features.enable_experiment_tracking
        else None,
        model_images=ContainerRegistryArgs(
            repository_name="models",
            purpose="model serving images",
            client_namespaces=clients,
        )
        if features.enable_ci_cd
        else None,
        online_features=KeyValueStoreArgs(
            store_name="online-features",
            purpose="online feature store",
            client_namespaces=clients,
        )
        if features.enable_feature_store
        else None,
    )


def target_posture(features: LevelFeatures) -> TargetPosture:
    return TargetPosture(
        customer_managed_keys=features.enable_customer_managed_keys,
        access_logging=features.enable_access_logging,
        high_availability=features.enable_high_availability,
    )


def level_node_pools(features: LevelFeatures, *, target: str | Target) -> tuple[NodePoolSpec, ...]:
    """The pools a level runs, limited to the hardware the target has.

    Specs never change between levels, so moving up a level only adds pools.
    """
    pools: list[NodePoolSpec] = []
    if features.enable_cpu_node_pools:
        pools.append(NodePoolSpec(name="general"))
    if features.enable_gpu_node_pools:
        pools.append(NodePoolSpec(name="gpu", hardware_class="nvidia-gpu", max_nodes=4))
    if features.enable_neuron_node_pools:
        pools.append(
            NodePoolSpec(
                name="neuron", hardware_class="neuron", instance_families=("inf2",), max_nodes=2
            )
        )
    available = supported_classes(target)
    return validate_pools([p for p in pools if p.hardware_class in available], target)


_SCALING = {
    "min_replicas",
    "max_replicas",
    "autoscaling_metric",
    "autoscaling_target",
    "canary_traffic_percent",
}


def plan_endpoints(spec: PlatformSpec) -> tuple[EndpointSettings, ...]:
    """Check the configured endpoints against the level before anything is registered.

    Errors name the stack config key (``mlops-platform:endpoints[0].canaryTrafficPercent``).
    """
    if spec.endpoints and not spec.features.enable_serving:
        raise BlueprintConfigError(
            f"{CONFIG_NAMESPACE}:endpoints",
            [e.name for e in spec.endpoints],
            f"Level {spec.level} has no model serving; serve models from Level 2 on, or remove "
            "the endpoints.",
        )
    pools = level_node_pools(spec.features, target=spec.target)
    seen: set[str] = set()
    for index, endpoint in enumerate(spec.endpoints):
        with config_errors(f"endpoints[{index}]"):
            validate_dns_label(endpoint.name, field="name")
            if endpoint.name in seen:
                raise BlueprintConfigError(
                    "name", endpoint.name, "Give each endpoint its own name."
                )
            seen.add(endpoint.name)
            # The model name becomes the endpoint's cost-allocation label.
            validate_label_value(parse_model_uri(endpoint.model_uri).name, field="model_uri")
            if endpoint.storage_uri is None and endpoint.tracking_uri is None:
                raise BlueprintConfigError(
                    "storage_uri",
                    None,
                    "Set storageUri (the model version's s3:// location), or trackingUri (an "
                    "MLflow registry reachable from where pulumi runs) to resolve it at deploy "
                    "time.",
                )
            if endpoint.storage_uri is not None and not endpoint.storage_uri.startswith("s3://"):
                raise BlueprintConfigError(
                    "storage_uri",
                    endpoint.storage_uri,
                    "Use the s3:// URI the registry reports for the model version; the serving "
                    "identity reads the data lake only.",
                )
            select_pool(pools, endpoint.hardware_class)
            validate_resources(
                cpu_request=endpoint.cpu_request,
                memory_request_mib=endpoint.memory_request_mib,
                memory_limit_mib=endpoint.memory_limit_mib,
            )
            if endpoint.accelerators < 1:
                raise BlueprintConfigError(
                    "accelerators", endpoint.accelerators, "Request at least one device."
                )
            validate_scaling(
                deployment_mode=SERVING_DEPLOYMENT_MODE, **endpoint.model_dump(include=_SCALING)
            )
    return spec.endpoints


@dataclass(frozen=True)
class PlatformArgs:
    """Arguments for :class:`Platform`: the validated spec (see ``load_spec``)."""

    spec: PlatformSpec


def _create_target(spec: PlatformSpec, scope: pulumi.Resource) -> Target:
    posture = target_posture(spec.features)
    if spec.target == "aws":
        assert spec.aws is not None  # load_spec guarantees it
        return AwsTarget(
            scope,
            spec.aws,
            cluster_name=spec.physical_name("eks"),
            name_prefix=f"{spec.name}-{spec.environment}",
            posture=posture,
        )
    return KindTarget(scope, spec.kind or KindSettings(), posture=posture)


class Platform(pulumi.ComponentResource):
    """One maturity level of the MLOps platform on one target.

    Child names are stable across levels, so moving up a level only adds resources.
    Level 1 children: ``kubernetes`` (provider), ``platform-namespace``, ``data-lake``,
    ``experiment-tracking-identity``, ``experiment-tracking-database`` and
    ``data-versioning-identity``; Level 2 adds ``model-images`` (container registry).
    """

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec = args.spec
        # Fail on bad target settings before anything, this component included, is registered.
        requests = platform_requests(spec.features)
        endpoints = plan_endpoints(spec)
        operations = plan_operations(
            spec,
            level_node_pools(spec.features, target=spec.target),
            model_namespace=PLATFORM_NAMESPACE,
        )
        if spec.target == "aws":
            assert spec.aws is not None  # load_spec guarantees it
            AwsTarget.plan(spec.aws, cluster_name=spec.physical_name("eks"))
            AwsTarget.check_requests(
                f"{spec.name}-{spec.environment}",
                sql_databases=[r for r in [requests.tracking_database] if r],
                container_registries=[r for r in [requests.model_images] if r],
                key_value_stores=[r for r in [requests.online_features] if r],
            )
        labels = allocation_labels(team=spec.team, level=spec.level, environment=spec.environment)
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(transformations=[allocation_transformation(labels)])
        )
        super().__init__("mlops:blueprints:Platform", name, None, opts)
        features = spec.features
        self.target = _create_target(spec, self)
        outputs: dict[str, pulumi.Input[object]] = {"level": spec.level, "target": spec.target}
        tags = dict(labels)

        pools = level_node_pools(features, target=self.target)
        if pools and isinstance(self.target, AwsTarget):
            self.node_pools = self.target.node_pools("node-pools", pools, self.target.scoped_opts())
        elif pools and isinstance(self.target, KindTarget):
            outputs["kind_cluster_config"] = self.target.node_pools(pools)

        if features.enable_platform_namespace:
            self.namespace = WorkloadNamespace(
                "platform-namespace",
                WorkloadNamespaceArgs(namespace=PLATFORM_NAMESPACE),
                self.target.scoped_opts(),
            )
            outputs["namespace"] = self.namespace.namespace_name

        self.monitoring: MonitoringStack | None = None
        if operations.monitoring is not None:
            self.monitoring = MonitoringStack(
                "monitoring", operations.monitoring, self.target.scoped_opts()
            )
            outputs["grafana_url"] = self.monitoring.grafana_url
            outputs["prometheus_url"] = self.monitoring.prometheus_url

        if features.enable_data_lake:
            self.data_lake = DataLake(
                "data-lake",
                DataLakeArgs(
                    target=self.target, bucket_prefix=spec.physical_name("lake"), tags=tags
                ),
                self.target.scoped_opts(),
            )
            outputs.update(
                {f"data_lake_{zone}": store.uri for zone, store in self.data_lake.zones.items()}
            )

        if features.enable_experiment_tracking:
            tracking = self.target.workload_identity(
                "experiment-tracking-identity",
                WorkloadIdentityArgs(
                    namespace=self.namespace.namespace_name, service_account_name="mlflow"
                ),
                self.target.scoped_opts(),
            )
            # The tracking server reads and writes experiment artifacts, and nothing else.
            self.data_lake.artifacts.grant_read(tracking, prefix="mlflow/")
            self.data_lake.artifacts.grant_write(tracking, prefix="mlflow/")
            assert requests.tracking_database is not None
            self.tracking_database = self.target.sql_database(
                "experiment-tracking-database",
                requests.tracking_database,
                self.target.scoped_opts(),
            )
            self.tracking_database.grant_connect(tracking)
            outputs["tracking_database_host"] = self.tracking_database.host
            self.model_registry = ModelRegistry(
                "model-registry",
                ModelRegistryArgs(
                    namespace=self.namespace.namespace_name,
                    identity=tracking,
                    database=self.tracking_database,
                    artifact_store=self.data_lake.artifacts,
                    enable_authentication=features.enable_service_authentication,
                    # Scraped once the monitoring stack exists (Level 2).
                    prometheus_operator=self._prometheus_operator,
                ),
                self.target.scoped_opts(),
            )
            outputs["tracking_uri"] = self.model_registry.tracking_uri

        if features.enable_data_versioning:
            versioning = self.target.workload_identity(
                "data-versioning-identity",
                WorkloadIdentityArgs(
                    namespace=self.namespace.namespace_name, service_account_name="dvc"
                ),
                self.target.scoped_opts(),
            )
            # The DVC remote lives under dvc/ in the raw and curated zones.
            for zone in (self.data_lake.raw, self.data_lake.curated):
                zone.grant_read(versioning, prefix="dvc/")
                zone.grant_write(versioning, prefix="dvc/")

        if requests.model_images is not None:
            self.model_images = self.target.container_registry(
                "model-images", requests.model_images, self.target.scoped_opts()
            )
            outputs["model_image_repository"] = self.model_images.repository_url

        if operations.gitops is not None:
            self._deploy_ci_cd(operations, outputs)
        if features.enable_pipelines:
            self._deploy_pipelines(spec, outputs)
        if features.enable_serving:
            self.serving = ServingStack(
                "serving",
                ServingStackArgs(
                    runtime_namespace=self.namespace.namespace_name,
                    deployment_mode=SERVING_DEPLOYMENT_MODE,
                ),
                self.target.scoped_opts(),
            )
            self.serving_identity = self.target.workload_identity(
                "model-serving-identity",
                WorkloadIdentityArgs(
                    namespace=self.namespace.namespace_name, service_account_name="model-serving"
                ),
                self.target.scoped_opts(),
            )
            # Serving reads registered models through the registry, and nothing else.
            self.model_registry.grant_read(self.serving_identity)
            outputs["serving_identity"] = self.serving_identity.service_account_name
            self.endpoints = [self._deploy_endpoint(endpoint, pools) for endpoint in endpoints]
            if self.endpoints:
                outputs["endpoint_urls"] = {
                    e.name: endpoint.url
                    for e, endpoint in zip(endpoints, self.endpoints, strict=True)
                }
        if requests.online_features is not None:
            self._deploy_feature_store(requests.online_features, outputs)
        if features.enable_cost_allocation:
            assert self.monitoring is not None  # cost allocation comes after basic monitoring
            self.cost_allocation = CostAllocation(
                "cost-allocation",
                CostAllocationArgs(
                    namespace=self.monitoring.namespace_name,
                    depends_on_prometheus=self.monitoring.prometheus_operator,
                    monitor_labels=MONITOR_LABELS,
                    pricing="aws-list-prices" if spec.target == "aws" else "custom",
                    cluster_id=spec.physical_name("cluster"),
                ),
                self.target.scoped_opts(),
            )
            outputs["opencost_url"] = self.cost_allocation.api_url
        if operations.budget is not None:
            self.budget = BudgetAlerts(
                "budget", operations.budget, pulumi.ResourceOptions(parent=self)
            )
            outputs["budget_name"] = self.budget.budget_name

        self.outputs = outputs
        self.register_outputs(outputs)

    @property
    def _prometheus_operator(self) -> pulumi.Resource | None:
        return self.monitoring.prometheus_operator if self.monitoring is not None else None

    def _deploy_endpoint(
        self, endpoint: EndpointSettings, pools: tuple[NodePoolSpec, ...]
    ) -> InferenceEndpoint:
        return InferenceEndpoint(
            f"endpoint-{endpoint.name}",
            InferenceEndpointArgs(
                namespace=self.namespace.namespace_name,
                endpoint_name=endpoint.name,
                serving_stack=self.serving,
                identity=self.serving_identity,
                node_pools=pools,
                allowed_namespaces=[self.namespace.namespace_name],
                prometheus_operator=self._prometheus_operator,
                # Settings carry InferenceEndpointArgs' field names.
                **endpoint.model_dump(exclude={"name"}),
                labels={MODEL_LABEL: parse_model_uri(endpoint.model_uri).name},
            ),
            self.target.scoped_opts(),
        )

    def _deploy_ci_cd(
        self, operations: OperationsPlan, outputs: dict[str, pulumi.Input[object]]
    ) -> None:
        assert operations.gitops is not None
        operator = self._prometheus_operator
        self.gitops = ArgoCd(
            "gitops",
            dataclasses.replace(
                operations.gitops,
                prometheus_operator=operator,
                monitor_labels=MONITOR_LABELS if operator is not None else None,
            ),
            self.target.scoped_opts(),
        )
        if operations.ci_role is None:
            return  # kind: no cloud identity for CI; pushes go to the in-cluster registry
        github = GithubOidcProvider(
            "github-oidc", GithubOidcProviderArgs(), pulumi.ResourceOptions(parent=self)
        )
        ci = GithubActionsRole(
            "ci-build",
            dataclasses.replace(operations.ci_role, oidc_provider_arn=github.arn),
            pulumi.ResourceOptions(parent=self),
        )
        # Build and push the model image, read versioned datasets for the validation gate,
        # keep its reports, and log and register the candidate model.
        self.model_images.grant_push(ci)
        self.data_lake.curated.grant_read(ci, prefix="dvc/")
        self.data_lake.artifacts.grant_write(ci, prefix="ci/")
        self.model_registry.grant_write(ci)
        outputs["ci_role_arn"] = ci.role_arn

    def _deploy_pipelines(
        self, spec: PlatformSpec, outputs: dict[str, pulumi.Input[object]]
    ) -> None:
        # Upstream pods are not all 'restricted'-ready, so this namespace runs 'baseline'. It
        # denies traffic by default like the others; one policy opens what upstream needs.
        namespace = WorkloadNamespace(
            "pipelines-namespace",
            WorkloadNamespaceArgs(namespace=PIPELINES_NAMESPACE, pod_security="baseline"),
            self.target.scoped_opts(),
        )
        if spec.aws is not None:
            api_server_cidrs = [spec.aws.vpc_cidr]
            object_store_egress: list[dict[str, Any]] = []  # S3 over HTTPS, already open
        else:
            kind = spec.kind or KindSettings()
            api_server_cidrs = [kind.node_cidr]
            object_store_egress = [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {
                                    "kubernetes.io/metadata.name": kind.storage_namespace
                                }
                            }
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": SEAWEEDFS_S3_PORT}],
                }
            ]
        allow_pipeline_traffic(
            self,
            "pipelines-traffic",
            namespace=namespace.namespace_name,
            client_namespaces=[self.namespace.namespace_name],
            monitoring_namespace=MONITORING_NAMESPACE,
            api_server_cidrs=api_server_cidrs,
            extra_egress=object_store_egress,
        )
        runner = self.target.workload_identity(
            "pipeline-runner-identity",
            WorkloadIdentityArgs(
                namespace=namespace.namespace_name,
                service_account_name="pipeline-runner-mlops",
                api_access_reason=(
                    "Argo's executor and the KFP driver in run pods read and patch their "
                    "workflow through the Kubernetes API"
                ),
            ),
            self.target.scoped_opts(),
        )
        self.pipelines = Pipelines(
            "pipelines",
            PipelinesArgs(
                namespace=namespace.namespace_name,
                pipeline_root_store=self.data_lake.artifacts,
                runner_identity=runner,
            ),
            self.target.scoped_opts(),
        )
        if self.monitoring is not None:
            # Argo's workflow controller counts runs by phase (the pipeline-failure alert). It
            # serves metrics over https with a certificate it generates and publishes no CA for.
            service_monitor(
                "pipelines-service-monitor",
                name="workflow-controller",
                namespace=namespace.namespace_name,
                selector={"app": "workflow-controller"},
                port="metrics",
                scheme="https",
                insecure_skip_verify=True,
                operator=self.monitoring.prometheus_operator,
                parent=self,
                depends_on=[self.pipelines],
            )
        # Training pipelines log runs and register models.
        self.model_registry.grant_write(runner)
        outputs["pipeline_root"] = self.pipelines.pipeline_root

    def _deploy_feature_store(
        self, request: KeyValueStoreArgs, outputs: dict[str, pulumi.Input[object]]
    ) -> None:
        namespace = self.namespace.namespace_name
        online = self.target.key_value_store("online-features", request, self.target.scoped_opts())
        server, materializer = (
            self.target.workload_identity(
                f"{role}-identity",
                WorkloadIdentityArgs(namespace=namespace, service_account_name=role),
                self.target.scoped_opts(),
            )
            for role in ("feature-server", "feature-materializer")
        )
        self.feature_store = FeatureStore(
            "feature-store",
            FeatureStoreArgs(
                namespace=namespace,
                project="mlops",
                registry_store=self.data_lake.artifacts,
                offline_store=self.data_lake.curated,
                online_store=online,
                server_identity=server,
                materializer_identity=materializer,
            ),
            self.target.scoped_opts(),
        )
        outputs["feature_server_url"] = self.feature_store.url
        if self.monitoring is not None:
            # The job label is the Service name, which the feature-store alerts select on.
            service_monitor(
                "feature-store-service-monitor",
                name="feature-store",
                namespace=namespace,
                selector={
                    "app.kubernetes.io/name": "feast-feature-server",
                    "app.kubernetes.io/instance": "feature-store",
                },
                port="metrics",
                operator=self.monitoring.prometheus_operator,
                parent=self,
                depends_on=[self.feature_store],
            )


def deploy_level(level: int) -> Platform:
    """Entry point of a level's stack program: read config, build the platform, export."""
    from ._spec import load_spec

    spec = load_spec(level)
    platform = Platform("platform", PlatformArgs(spec=spec))
    for key, value in platform.outputs.items():
        pulumi.export(key, value)
    return platform
