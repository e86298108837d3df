"""Every upstream version the project deploys or validates against, in one place.

Helm chart versions match the chart defaults recorded in the upstream lock
(``mlops_blueprints/check/upstream.lock.json``), so ``mlops-bp check`` validates values against
the chart that is actually deployed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CHARTS",
    "EKS_ADDON_VERSIONS",
    "EKS_KUBERNETES_VERSION",
    "EKS_SUPPORTED_KUBERNETES_VERSIONS",
    "IMAGES",
    "KIND_NODE_IMAGE",
    "MANAGED_ENGINE_VERSIONS",
    "VALIDATED_KUBERNETES_VERSIONS",
    "HelmChart",
]

# The Kubernetes minor the blueprints target, and every minor the rendered manifests must
# validate against (the target and the next, so an upgrade never meets a removed field).
EKS_KUBERNETES_VERSION = "1.35"
VALIDATED_KUBERNETES_VERSIONS: tuple[str, ...] = ("1.35", "1.36")
KIND_NODE_IMAGE = "kindest/node:v1.35.0"


@dataclass(frozen=True)
class HelmChart:
    """A pinned Helm chart: its name in the repository, version and repository URL."""

    chart: str
    version: str
    repository: str


CHARTS: dict[str, HelmChart] = {
    "karpenter": HelmChart("karpenter", "1.14.1", "oci://public.ecr.aws/karpenter"),
    "kube-prometheus-stack": HelmChart(
        "kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts"
    ),
    "argo-cd": HelmChart("argo-cd", "10.1.1", "https://argoproj.github.io/argo-helm"),
    "mlflow": HelmChart("mlflow", "1.11.5", "https://community-charts.github.io/helm-charts"),
    "kserve-crd": HelmChart("kserve-crd", "v0.20.0", "oci://ghcr.io/kserve/charts"),
    "kserve-resources": HelmChart("kserve-resources", "v0.20.0", "oci://ghcr.io/kserve/charts"),
    "dcgm-exporter": HelmChart(
        "dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts"
    ),
    "nvidia-device-plugin": HelmChart(
        "nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin"
    ),
    "neuron-helm-chart": HelmChart("neuron-helm-chart", "1.0.0", "oci://public.ecr.aws/neuron"),
    "opencost": HelmChart("opencost", "2.5.17", "https://opencost.github.io/opencost-helm-chart"),
    "feast-feature-server": HelmChart(
        "feast-feature-server", "0.66.0", "https://feast-helm-charts.storage.googleapis.com"
    ),
    "aws-load-balancer-controller": HelmChart(
        "aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts"
    ),
    "metrics-server": HelmChart(
        "metrics-server", "3.13.1", "https://kubernetes-sigs.github.io/metrics-server"
    ),
    # The upstream chart source carries the placeholder v0.0.0; the release pinned here is the
    # latest tag in the recorded upstream snapshot.
    "cert-manager": HelmChart("cert-manager", "v1.21.1", "https://charts.jetstack.io"),
}

# Container images the blueprints run directly (not through a chart), pinned by tag.
IMAGES: dict[str, str] = {
    "seaweedfs": "chrislusf/seaweedfs:3.97",
    # Official images. Alpine variants: postgres runs as uid/gid 70, redis as uid 999 gid 1000.
    "postgres": "postgres:17.6-alpine",
    "redis": "redis:8.2.1-alpine",
    # The CNCF distribution registry (the official `registry` image).
    "registry": "registry:3.0.0",
    # Feast's feature server image (feast CLI with the redis and aws extras), matching the
    # pinned Feast SDK; runs both the server and the materialization CronJob.
    "feast-feature-server": "quay.io/feastdev/feature-server:0.67.0",
    # Not a container image: the EKS-optimized AL2023 node image release Karpenter boots, as an
    # EC2NodeClass alias (accelerated variants are picked per instance type).
    "eks-node-al2023": "al2023@v20260423",
    # KServe model servers, at the release of the kserve-resources chart.
    "kserve-sklearnserver": "kserve/sklearnserver:v0.20.0",
    "kserve-xgbserver": "kserve/xgbserver:v0.20.0",
    # AWS's neuron-monitor with its Prometheus exporter; the neuron-helm-chart has no monitor.
    "neuron-monitor": "public.ecr.aws/neuron/neuron-monitor:1.1.0",
}

# Kubeflow Pipelines release whose upstream kustomize manifests (cluster-scoped resources and
# the platform-agnostic standalone install) are deployed, as the git tag of kubeflow/pipelines.
KFP_VERSION = "2.17.0"

# EKS managed add-on builds pinned per Kubernetes minor. A minor is supported by the cluster
# component exactly when its add-ons are pinned here; moving EKS_KUBERNETES_VERSION means adding
# (or picking) the matching row first.
EKS_ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.34": {
        "vpc-cni": "v1.21.1-eksbuild.1",
        "kube-proxy": "v1.34.1-eksbuild.2",
        "coredns": "v1.12.4-eksbuild.1",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.2",
    },
    "1.35": {
        "vpc-cni": "v1.21.1-eksbuild.3",
        "kube-proxy": "v1.35.0-eksbuild.2",
        "coredns": "v1.13.2-eksbuild.1",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    },
}
EKS_SUPPORTED_KUBERNETES_VERSIONS: tuple[str, ...] = tuple(EKS_ADDON_VERSIONS)

# Engine versions of the managed data services on aws. RDS takes the major only: with
# auto_minor_version_upgrade on, AWS applies minors in the maintenance window, and an exact
# minor here would make every later run try to downgrade. ElastiCache pins major.minor, the
# finest version it accepts.
MANAGED_ENGINE_VERSIONS: dict[str, str] = {
    "rds-postgres": "17",
    "elasticache-redis": "7.1",
}
