"""KServe and its prerequisites as Helm releases, plus the namespaced ServingRuntimes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints import versions
from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import validate_dns_label

from .._labels import standard_labels
from .._opts import child_opts
from ..node_pools._charts import chart_args
from ._plan import (
    DeploymentMode,
    RuntimeName,
    cert_manager_values,
    kserve_resources_values,
    parse_deployment_mode,
    parse_runtime,
    serving_runtime_spec,
    validate_pinned_image,
)

__all__ = ["ServingStack", "ServingStackArgs", "runtime_object_name"]


def runtime_object_name(runtime: RuntimeName) -> str:
    """The ServingRuntime's name in the runtime namespace (e.g. ``kserve-sklearn``)."""
    return f"kserve-{runtime}"


@dataclass(frozen=True)
class ServingStackArgs:
    """Arguments for :class:`ServingStack`.

    - ``runtime_namespace``: the existing namespace (normally a ``WorkloadNamespace``) that
      receives the ServingRuntimes and where InferenceServices run.
    - ``deployment_mode`` (RawDeployment): KServe's default mode. ``Serverless`` uses Knative
      (scale to zero, canary traffic); Knative Serving must already be installed.
    - ``runtimes`` (sklearn and xgboost): ServingRuntimes to create; ``bentoml`` adds a
      runtime for a built bento container. ``vllm`` is refused: not supported yet.
    - ``bentoml_image`` (None): the bento container image, pinned; required with ``bentoml``.
    - ``kserve_namespace`` (kserve): namespace of the KServe controller (created by Helm).
    - ``cert_manager_namespace`` (cert-manager): namespace of cert-manager (created by Helm).
    - ``labels``: extra labels on the ServingRuntimes.
    """

    runtime_namespace: pulumi.Input[str]
    deployment_mode: DeploymentMode = "RawDeployment"
    runtimes: Sequence[RuntimeName] = ("sklearn", "xgboost")
    bentoml_image: str | None = None
    kserve_namespace: str = "kserve"
    cert_manager_namespace: str = "cert-manager"
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parse_deployment_mode(self.deployment_mode)
        if not self.runtimes:
            raise BlueprintConfigError(
                "runtimes", self.runtimes, "Name at least one runtime (e.g. ('sklearn',))."
            )
        for index, runtime in enumerate(self.runtimes):
            parse_runtime(runtime, field=f"runtimes[{index}]")
        if len(set(self.runtimes)) != len(self.runtimes):
            raise BlueprintConfigError("runtimes", tuple(self.runtimes), "List each runtime once.")
        if "bentoml" in self.runtimes:
            if self.bentoml_image is None:
                raise BlueprintConfigError(
                    "bentoml_image",
                    None,
                    "The bentoml runtime serves a built bento image; pass it pinned to a tag, "
                    "e.g. 'registry.example.com/mlops/churn:1.4.2'.",
                )
            validate_pinned_image(self.bentoml_image, field="bentoml_image")
        elif self.bentoml_image is not None:
            raise BlueprintConfigError(
                "bentoml_image",
                self.bentoml_image,
                "Add 'bentoml' to runtimes, or drop bentoml_image.",
            )
        validate_dns_label(self.kserve_namespace, field="kserve_namespace")
        validate_dns_label(self.cert_manager_namespace, field="cert_manager_namespace")


class ServingStack(pulumi.ComponentResource):
    """cert-manager, the KServe CRDs and controller, and namespaced ServingRuntimes.

    Children, in dependency order: ``{name}-cert-manager`` (release, installs its CRDs),
    ``{name}-kserve-crd`` (release), ``{name}-kserve-resources`` (release, after both), then
    ``{name}-runtime-<runtime>`` (ServingRuntime) per runtime, after ``kserve-resources``.
    """

    deployment_mode: DeploymentMode
    runtime_names: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: ServingStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:serving:ServingStack", name, None, opts)
        self.deployment_mode = args.deployment_mode
        self.runtimes: tuple[RuntimeName, ...] = tuple(args.runtimes)
        self.cert_manager = k8s.helm.v3.Release(
            f"{name}-cert-manager",
            name="cert-manager",
            namespace=args.cert_manager_namespace,
            create_namespace=True,
            values=cert_manager_values(),
            opts=child_opts(self),
            **chart_args(versions.CHARTS["cert-manager"]),
        )
        self.kserve_crd = k8s.helm.v3.Release(
            f"{name}-kserve-crd",
            name="kserve-crd",
            namespace=args.kserve_namespace,
            create_namespace=True,
            values={},
            opts=child_opts(self),
            **chart_args(versions.CHARTS["kserve-crd"]),
        )
        self.kserve_resources = k8s.helm.v3.Release(
            f"{name}-kserve-resources",
            name="kserve-resources",
            namespace=args.kserve_namespace,
            create_namespace=True,
            values=kserve_resources_values(args.deployment_mode),
            # The controller's webhook certificate comes from cert-manager.
            opts=child_opts(self, depends_on=[self.cert_manager, self.kserve_crd]),
            **chart_args(versions.CHARTS["kserve-resources"]),
        )
        self.serving_runtimes: dict[RuntimeName, k8s.apiextensions.CustomResource] = {}
        names: dict[str, str] = {}
        for runtime in self.runtimes:
            object_name = runtime_object_name(runtime)
            self.serving_runtimes[runtime] = k8s.apiextensions.CustomResource(
                f"{name}-runtime-{runtime}",
                api_version="serving.kserve.io/v1alpha1",
                kind="ServingRuntime",
                metadata={
                    "name": object_name,
                    "namespace": args.runtime_namespace,
                    "labels": standard_labels(
                        "serving-runtime", instance=object_name, extra=args.labels
                    ),
                },
                spec=serving_runtime_spec(runtime, image=args.bentoml_image),
                opts=child_opts(self, depends_on=[self.kserve_crd, self.kserve_resources]),
            )
            names[runtime] = object_name
        self.runtime_names = pulumi.Output.from_input(names)
        self.register_outputs(
            {"deployment_mode": args.deployment_mode, "runtime_names": self.runtime_names}
        )
