"""One KServe InferenceService for one registered model, placed on a node pool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import WorkloadIdentity, validate_dns_label

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import (
    container_resources,
    namespace_peers,
    validate_allowed_namespaces,
    validate_resources,
)
from ..kubernetes import RESTRICTED_POD_SECURITY_CONTEXT
from ..monitoring import service_monitor
from ..node_pools import HardwareClass, NodePoolSpec
from ._plan import (
    AutoscalingMetric,
    RuntimeName,
    ScaleToZeroTimeouts,
    effective_metric,
    parse_model_uri,
    parse_runtime,
    predictor_placement,
    resolve_storage_uri,
    runtime_port,
    scale_to_zero_timeouts,
    select_pool,
    validate_scaling,
)
from ._stack import ServingStack, runtime_object_name

__all__ = ["AutoscalingMetric", "InferenceEndpoint", "InferenceEndpointArgs"]

_ISVC_LABEL = "serving.kserve.io/inferenceservice"
_KNATIVE_NAMESPACE = "knative-serving"


@dataclass(frozen=True)
class InferenceEndpointArgs:
    """Arguments for :class:`InferenceEndpoint`.

    - ``namespace``: the namespace the ServingStack's runtimes live in.
    - ``endpoint_name``: the InferenceService name (an RFC 1123 label).
    - ``model_uri``: ``models:/<name>@<alias>`` or ``models:/<name>/<version>``.
    - ``runtime``: ``sklearn``, ``xgboost`` or ``bentoml``; the stack must ship it.
    - ``serving_stack``: the ``ServingStack``; its deployment mode applies and the
      InferenceService waits for it.
    - ``identity``: the serving identity; pods run as its service account with its pod labels
      (grant it read access to the model store first).
    - ``node_pools``: the pools the cluster has; one of ``hardware_class`` is chosen.
    - ``allowed_namespaces``: namespaces whose pods may call the endpoint (at least one).
    - ``storage_uri`` (None): where the model files are; when set the registry is not asked.
    - ``tracking_uri`` (None): the MLflow registry, asked for the storage URI at deploy time;
      required when ``storage_uri`` is unset.
    - ``hardware_class`` (cpu): ``cpu``, ``nvidia-gpu`` or ``neuron``; a class no pool provides
      is an error.
    - ``node_pool`` (None): a pool by name; the first pool of the class when unset.
    - ``accelerators`` (1): GPUs or Neuron devices per replica (ignored on cpu).
    - ``cpu_request`` (1): CPU request of the model container.
    - ``memory_request_mib`` (2048): memory request.
    - ``memory_limit_mib`` (4096): memory limit; at least the request.
    - ``min_replicas`` (1): 0 scales to zero (Serverless only).
    - ``max_replicas`` (3): at least ``min_replicas`` and at least 1.
    - ``autoscaling_metric`` (None): ``concurrency`` or ``rps`` (Serverless), ``cpu``
      (RawDeployment's HPA); unset means concurrency on Serverless, cpu on RawDeployment.
    - ``autoscaling_target`` (None): target per replica (requests, requests/s or CPU %);
      KServe's default when unset.
    - ``canary_traffic_percent`` (None): share of traffic (0-100) for the newest revision
      (Serverless only; KServe ignores it in RawDeployment).
    - ``model_load_seconds`` (120): expected model download and load time, added to node
      provisioning for scale-to-zero timeouts.
    - ``knative_max_revision_timeout_seconds`` (600): the cluster's Knative
      ``max-revision-timeout-seconds``; computed timeouts must fit under it.
    - ``monitoring_namespace`` (monitoring): Prometheus' namespace, admitted to the metrics port.
    - ``prometheus_operator`` (None): the resource installing the ``monitoring.coreos.com``
      CRDs (e.g. the kube-prometheus-stack release); the ServiceMonitor is created only then.
    - ``labels``: extra labels on every object.
    """

    namespace: pulumi.Input[str]
    endpoint_name: str
    model_uri: str
    runtime: RuntimeName
    serving_stack: ServingStack
    identity: WorkloadIdentity
    node_pools: Sequence[NodePoolSpec]
    allowed_namespaces: Sequence[pulumi.Input[str]]
    storage_uri: pulumi.Input[str] | None = None
    tracking_uri: str | None = None
    hardware_class: HardwareClass = "cpu"
    node_pool: str | None = None
    accelerators: int = 1
    cpu_request: str = "1"
    memory_request_mib: int = 2048
    memory_limit_mib: int = 4096
    min_replicas: int = 1
    max_replicas: int = 3
    autoscaling_metric: AutoscalingMetric | None = None
    autoscaling_target: int | None = None
    canary_traffic_percent: int | None = None
    model_load_seconds: int = 120
    knative_max_revision_timeout_seconds: int = 600
    monitoring_namespace: str = "monitoring"
    prometheus_operator: pulumi.Resource | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_dns_label(self.endpoint_name, field="endpoint_name")
        parse_model_uri(self.model_uri)
        parse_runtime(self.runtime)
        if self.runtime not in self.serving_stack.runtimes:
            raise BlueprintConfigError(
                "runtime",
                self.runtime,
                f"The serving stack ships {', '.join(self.serving_stack.runtimes)}; add "
                f"{self.runtime!r} to its runtimes or pick one of those.",
            )
        if self.storage_uri is None and self.tracking_uri is None:
            raise BlueprintConfigError(
                "tracking_uri",
                None,
                "Pass tracking_uri (the MLflow registry) so the model's storage URI can be "
                "resolved, or pass storage_uri directly.",
            )
        validate_allowed_namespaces(self.allowed_namespaces, field="allowed_namespaces")
        self.pool  # noqa: B018 - fails early when no pool provides the class
        if self.accelerators < 1:
            raise BlueprintConfigError(
                "accelerators", self.accelerators, "Request at least one device per replica."
            )
        validate_resources(
            cpu_request=self.cpu_request,
            memory_request_mib=self.memory_request_mib,
            memory_limit_mib=self.memory_limit_mib,
        )
        validate_scaling(
            deployment_mode=self.serving_stack.deployment_mode,
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            autoscaling_metric=self.autoscaling_metric,
            autoscaling_target=self.autoscaling_target,
            canary_traffic_percent=self.canary_traffic_percent,
        )
        if self.model_load_seconds < 0:
            raise BlueprintConfigError(
                "model_load_seconds", self.model_load_seconds, "Use 0 seconds or more."
            )
        validate_dns_label(self.monitoring_namespace, field="monitoring_namespace")
        timeouts = self.timeouts
        if (
            timeouts
            and timeouts.revision_timeout_seconds > self.knative_max_revision_timeout_seconds
        ):
            raise BlueprintConfigError(
                "knative_max_revision_timeout_seconds",
                self.knative_max_revision_timeout_seconds,
                f"A cold start on pool {self.pool.name!r} needs a request timeout of "
                f"{timeouts.revision_timeout_seconds}s; raise max-revision-timeout-seconds "
                "in Knative's config-defaults and here, lower the pool's provisioning_seconds or "
                "model_load_seconds, or keep min_replicas >= 1.",
            )

    @property
    def effective_metric(self) -> str:
        return effective_metric(self.serving_stack.deployment_mode, self.autoscaling_metric)

    @property
    def pool(self) -> NodePoolSpec:
        return select_pool(self.node_pools, self.hardware_class, pool_name=self.node_pool)

    @property
    def timeouts(self) -> ScaleToZeroTimeouts | None:
        if self.min_replicas != 0:
            return None
        return scale_to_zero_timeouts(
            self.pool.effective_provisioning_seconds, model_load_seconds=self.model_load_seconds
        )


class InferenceEndpoint(pulumi.ComponentResource):
    """A KServe InferenceService with placement, autoscaling, disruption budget and monitoring.

    Children: ``{name}-inference-service`` (InferenceService, after the stack's
    kserve-resources release and runtime), ``{name}-pdb`` (PodDisruptionBudget),
    ``{name}-network-policy`` (ingress from ``allowed_namespaces`` and Prometheus, plus
    Knative's activator in Serverless mode) and, with ``prometheus_operator``,
    ``{name}-service-monitor``.
    """

    endpoint_name: pulumi.Output[str]
    storage_uri: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: InferenceEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:serving:InferenceEndpoint", name, None, opts)
        stack = args.serving_stack
        reference = parse_model_uri(args.model_uri)
        storage_uri = args.storage_uri
        if storage_uri is None:
            assert args.tracking_uri is not None  # checked by the args
            storage_uri = resolve_storage_uri(reference, args.tracking_uri)
        self.storage_uri = pulumi.Output.from_input(storage_uri)
        pool = args.pool
        labels = standard_labels(
            "inference-endpoint", instance=args.endpoint_name, extra=args.labels
        )
        selector = {_ISVC_LABEL: args.endpoint_name}
        node_selector, tolerations, resources = predictor_placement(
            container_resources(
                cpu_request=args.cpu_request,
                memory_request_mib=args.memory_request_mib,
                memory_limit_mib=args.memory_limit_mib,
            ),
            pool,
            accelerators=args.accelerators,
        )
        annotations: dict[str, str] = {}
        predictor: dict[str, Any] = {
            "minReplicas": args.min_replicas,
            "maxReplicas": args.max_replicas,
            "scaleMetric": args.effective_metric,
            "serviceAccountName": args.identity.service_account_name,
            "automountServiceAccountToken": False,
            "securityContext": RESTRICTED_POD_SECURITY_CONTEXT,
            "labels": {**labels, **args.identity.pod_labels},
            "nodeSelector": node_selector,
            "model": {
                "modelFormat": {"name": args.runtime},
                "runtime": runtime_object_name(args.runtime),
                "storageUri": self.storage_uri,
                "resources": resources,
            },
        }
        if tolerations:
            predictor["tolerations"] = tolerations
        if args.autoscaling_target is not None:
            predictor["scaleTarget"] = args.autoscaling_target
        if args.canary_traffic_percent is not None:
            predictor["canaryTrafficPercent"] = args.canary_traffic_percent
        timeouts = args.timeouts
        if timeouts is not None:
            annotations.update(timeouts.annotations())
            predictor["timeout"] = timeouts.revision_timeout_seconds
        if annotations:
            predictor["annotations"] = annotations
        metadata_annotations = {
            "serving.kserve.io/deploymentMode": {
                "RawDeployment": "Standard",
                "Serverless": "Knative",
            }[stack.deployment_mode],
            "mlops-blueprints.io/model-uri": reference.uri,
        }
        self.inference_service = k8s.apiextensions.CustomResource(
            f"{name}-inference-service",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            metadata={
                "name": args.endpoint_name,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": metadata_annotations,
            },
            spec={"predictor": predictor},
            opts=child_opts(
                self,
                depends_on=[stack.kserve_resources, stack.serving_runtimes[args.runtime]],
            ),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": args.endpoint_name, "namespace": args.namespace, "labels": labels},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            opts=child_opts(self),
        )
        port = runtime_port(args.runtime)
        sources = namespace_peers(args.allowed_namespaces) + namespace_peers(
            [args.monitoring_namespace]
        )
        if stack.deployment_mode == "Serverless":
            sources += namespace_peers([_KNATIVE_NAMESPACE])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": args.endpoint_name, "namespace": args.namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": sources, "ports": [{"protocol": "TCP", "port": port}]}],
            },
            opts=child_opts(self),
        )
        if args.prometheus_operator is not None:
            service_monitor(
                f"{name}-service-monitor",
                name=args.endpoint_name,
                namespace=args.namespace,
                selector=selector,
                port=port,
                operator=args.prometheus_operator,
                labels=labels,
                parent=self,
                depends_on=[self.inference_service],
            )
        self.endpoint_name = pulumi.Output.from_input(args.endpoint_name)
        self.url = pulumi.Output.concat(
            "http://", args.endpoint_name, "-predictor.", args.namespace, ".svc.cluster.local"
        )
        self.register_outputs(
            {"endpoint_name": self.endpoint_name, "storage_uri": self.storage_uri, "url": self.url}
        )
