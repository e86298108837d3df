"""EKS rules: a private API endpoint, encrypted Secrets, control-plane logs, a supported minor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from mlops_blueprints.versions import EKS_SUPPORTED_KUBERNETES_VERSIONS

from .._rule import Framework, Report, Rule, prop
from ._common import KEY_MANAGEMENT_CONTROLS, blocks, is_true, string_values

__all__ = ["EKS_RULES", "REQUIRED_CONTROL_PLANE_LOGS", "SUPPORTED_EKS_VERSIONS"]

CLUSTER_TYPES: Final = ("aws:eks/cluster:Cluster",)

# The minors the cluster component supports (those with pinned add-on builds): one list, kept
# in versions.py next to the pins it depends on.
SUPPORTED_EKS_VERSIONS: Final[tuple[str, ...]] = EKS_SUPPORTED_KUBERNETES_VERSIONS
REQUIRED_CONTROL_PLANE_LOGS: Final = ("api", "audit", "authenticator")
OPEN_TO_INTERNET: Final = frozenset({"0.0.0.0/0", "::/0"})


def _vpc_config(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return next(blocks(prop(props, "vpcConfig")), {})


def _public_access_on(vpc: Mapping[str, Any]) -> bool:
    # EKS turns the public endpoint on when the setting is left out.
    value = prop(vpc, "endpointPublicAccess")
    return value is None or is_true(value)


def _validate_endpoint_private(args: ResourceValidationArgs, report: Report) -> None:
    vpc = _vpc_config(args.props)
    problems = []
    if not is_true(prop(vpc, "endpointPrivateAccess")):
        problems.append("endpointPrivateAccess is not true")
    if _public_access_on(vpc) and not string_values(prop(vpc, "publicAccessCidrs")):
        problems.append("the public endpoint is on without explicit publicAccessCidrs")
    if problems:
        report(f"cluster API endpoint is not private: {'; '.join(problems)}")


def _validate_public_cidrs(args: ResourceValidationArgs, report: Report) -> None:
    vpc = _vpc_config(args.props)
    if not _public_access_on(vpc):
        return
    cidrs = string_values(prop(vpc, "publicAccessCidrs"))
    if not cidrs:
        report("the public endpoint is on and publicAccessCidrs is unset (EKS uses 0.0.0.0/0)")
        return
    open_ranges = sorted(set(cidrs) & OPEN_TO_INTERNET)
    if open_ranges:
        report(f"publicAccessCidrs admits the whole internet ({', '.join(open_ranges)})")


def _validate_secrets_encryption(args: ResourceValidationArgs, report: Report) -> None:
    for config in blocks(prop(args.props, "encryptionConfig")):
        resources = string_values(prop(config, "resources"))
        key = prop(config, "provider", "keyArn")
        if "secrets" in resources and isinstance(key, str) and key:
            return
    report("Kubernetes Secrets are not envelope-encrypted with a KMS key (encryptionConfig)")


def _validate_logs(args: ResourceValidationArgs, report: Report) -> None:
    enabled = set(string_values(prop(args.props, "enabledClusterLogTypes")))
    missing = [t for t in REQUIRED_CONTROL_PLANE_LOGS if t not in enabled]
    if missing:
        report(f"control-plane logs missing: {', '.join(missing)}")


def _validate_version(args: ResourceValidationArgs, report: Report) -> None:
    version = prop(args.props, "version")
    if version is None:
        report(
            "no Kubernetes version pinned (EKS picks its current default); supported: "
            f"{', '.join(SUPPORTED_EKS_VERSIONS)}"
        )
    elif str(version) not in SUPPORTED_EKS_VERSIONS:
        report(
            f"Kubernetes {version} is not a supported minor ({', '.join(SUPPORTED_EKS_VERSIONS)})"
        )


_ENDPOINT_CONTROLS: Final[Mapping[Framework, tuple[str, ...]]] = {
    "cis-eks": ("5.4.1", "5.4.2"),
    "nist-800-53": ("AC-17", "SC-7"),
    "hipaa": ("164.312(a)(1)",),
    "gdpr": ("Art. 32",),
    "dpdp": ("Sec. 8(5)",),
    "eu-ai-act": ("Art. 15",),
}

EKS_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="eks-cluster-endpoint-private",
        description=(
            "The EKS API server has its private endpoint on and its public endpoint off, or "
            "on only for explicitly listed CIDRs."
        ),
        remediation=(
            "Set vpcConfig.endpointPrivateAccess true and endpointPublicAccess false; "
            "EksCluster does unless enable_public_endpoint is on (then public_access_cidrs "
            "is required)."
        ),
        severity="high",
        controls=_ENDPOINT_CONTROLS,
        resource_types=CLUSTER_TYPES,
        validate_resource=_validate_endpoint_private,
    ),
    Rule(
        name="eks-cluster-public-endpoint-not-open-to-internet",
        description=(
            "When the EKS public endpoint is on, publicAccessCidrs is set and admits neither "
            "0.0.0.0/0 nor ::/0."
        ),
        remediation=(
            "List only your egress ranges in vpcConfig.publicAccessCidrs (EksCluster's "
            "public_access_cidrs), or turn the public endpoint off."
        ),
        severity="critical",
        controls=_ENDPOINT_CONTROLS,
        resource_types=CLUSTER_TYPES,
        validate_resource=_validate_public_cidrs,
    ),
    Rule(
        name="eks-cluster-secrets-encrypted-with-kms",
        description="The EKS cluster envelope-encrypts Kubernetes Secrets with a KMS key.",
        remediation=(
            "Set encryptionConfig with resources ['secrets'] and provider.keyArn; EksCluster "
            "always does, with kms_key or a key it creates."
        ),
        severity="high",
        controls={"cis-eks": ("5.3.1",), **KEY_MANAGEMENT_CONTROLS},
        resource_types=CLUSTER_TYPES,
        validate_resource=_validate_secrets_encryption,
    ),
    Rule(
        name="eks-cluster-control-plane-logging-enabled",
        description=(
            "The EKS cluster sends at least its api, audit and authenticator control-plane "
            "logs to CloudWatch."
        ),
        remediation=(
            "Include api, audit and authenticator in enabledClusterLogTypes; EksCluster "
            "always does (additional_log_types adds more)."
        ),
        severity="medium",
        controls={
            "cis-eks": ("2.1.1",),
            "nist-800-53": ("AU-2", "AU-12"),
            "hipaa": ("164.312(b)",),
            "gdpr": ("Art. 32", "Art. 33"),
            "dpdp": ("Sec. 8(6)",),
            "eu-ai-act": ("Art. 12",),
        },
        resource_types=CLUSTER_TYPES,
        validate_resource=_validate_logs,
    ),
    Rule(
        name="eks-cluster-kubernetes-version-supported",
        description=(
            "The EKS cluster pins a Kubernetes minor the platform supports (one with pinned "
            "add-on builds)."
        ),
        remediation=(
            "Set version to one of EKS_SUPPORTED_KUBERNETES_VERSIONS in versions.py "
            "(EksCluster's kubernetes_version)."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("CM-2", "SI-2"),
            "hipaa": ("164.308(a)(5)(ii)(B)",),
            "gdpr": ("Art. 32",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=CLUSTER_TYPES,
        validate_resource=_validate_version,
    ),
)
