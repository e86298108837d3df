"""Every upstream version the project deploys or validates against, in one place.

Helm chart versions match the chart defaults recorded in the upstream lock
(``mlops_blueprints/check/upstream.lock.json``), so ``mlops-bp check`` validates values against
the chart that is actually deployed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CHARTS",
    "EKS_KUBERNETES_VERSION",
    "IMAGES",
    "KIND_NODE_IMAGE",
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
}
