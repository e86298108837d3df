"""Run every check over a rendered directory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_blueprints.check._crd import CrdIndex, check_custom_resources, crd_from_body
from mlops_blueprints.check._findings import Finding
from mlops_blueprints.check._helm import check_helm_releases
from mlops_blueprints.check._kube import check_builtin_objects, resolve_schema_version
from mlops_blueprints.check._ordering import check_ordering, inventory_crds
from mlops_blueprints.check._policy import policy_sdk_installed, run_policy_check
from mlops_blueprints.check._rendered import load_rendered
from mlops_blueprints.check._report import CheckReport
from mlops_blueprints.errors import UpstreamMissingError, UsageError
from mlops_blueprints.versions import VALIDATED_KUBERNETES_VERSIONS

if TYPE_CHECKING:
    from mlops_blueprints.policies import PolicyReport, Rule

__all__ = ["run_checks"]


def run_checks(
    render_dir: Path,
    *,
    upstream: Path,
    kubernetes_versions: Sequence[str] = VALIDATED_KUBERNETES_VERSIONS,
    policy_findings: Iterable[Finding] = (),
    policy_objects_examined: int = 0,
    policies: bool = False,
    policy_rules: Sequence[Rule] | None = None,
) -> CheckReport:
    """Check a rendered directory against the upstream data in ``upstream``.

    With ``policies``, the policy rules of the render's level run too (check "policy", see
    ``mlops_blueprints.policies.evaluate_render``; ``policy_rules`` narrows them), and the
    report carries the ``PolicyReport`` (compliance matrix, suppressions). ``policy_findings``
    is the extension point for other policy results; they are merged as they are.

    Raises ``UsageError`` for a missing render directory or an unsupported Kubernetes version,
    ``UpstreamMissingError`` for a missing upstream directory, ``BlueprintConfigError`` for
    invalid ``policies`` settings recorded in the render.
    """
    if not upstream.is_dir():
        raise UpstreamMissingError(
            f"upstream directory {upstream} does not exist: set MLOPS_BP_UPSTREAM_DIR to a "
            "directory of upstream data, or run `mlops-bp upstream fetch`"
        )
    versions = tuple(kubernetes_versions)
    if not versions:
        raise UsageError("no Kubernetes version to validate against: pass at least one, e.g. 1.35")
    for version in versions:
        resolve_schema_version(version)  # fail fast on a version no schema set covers
    rendered = load_rendered(render_dir)

    # The render's own CRDs win over upstream ones: they are what the cluster would get.
    rendered_crds = [
        crd
        for manifest in rendered.manifests
        if manifest.group == "apiextensions.k8s.io" and manifest.kind == "CustomResourceDefinition"
        if (crd := crd_from_body(manifest.body, source=manifest.file)) is not None
    ]
    known = {(crd.group, crd.kind) for crd in rendered_crds}
    rendered_crds += [
        crd
        for crd in inventory_crds(rendered.inventory or ())
        if (crd.group, crd.kind) not in known
    ]
    index = CrdIndex(upstream=upstream, rendered=rendered_crds)

    findings: list[Finding] = list(rendered.problems)
    examined: dict[str, int] = {}
    kube_findings, examined["kubernetes"] = check_builtin_objects(
        rendered.manifests, kubernetes_versions=versions
    )
    crd_findings, examined["crd"] = check_custom_resources(rendered.manifests, index=index)
    helm_findings, examined["helm"] = check_helm_releases(rendered.helm_releases, upstream=upstream)
    ordering_findings: list[Finding] = []
    examined["ordering"] = 0
    if rendered.inventory is not None:
        ordering_findings, examined["ordering"] = check_ordering(rendered.inventory, crds=index)
    findings += kube_findings + crd_findings + helm_findings + ordering_findings

    policy_report: PolicyReport | None = None
    extra_policy: list[Finding] = list(policy_findings)
    if policies and not policy_sdk_installed():
        extra_policy.append(
            Finding(
                "policy",
                "warning",
                "policy rules",
                "",
                "not run: the pulumi-policy package is not installed "
                "(pip install 'pulumi-policy>=1.21,<2')",
                None,
            )
        )
    elif policies:
        found, examined_by_policy, policy_report = run_policy_check(
            render_dir, rendered, rules=policy_rules
        )
        extra_policy += found
        policy_objects_examined += examined_by_policy

    report = CheckReport(
        findings=tuple(findings),
        objects_examined={
            "kubernetes": examined["kubernetes"],
            "crd": examined["crd"],
            "helm": examined["helm"],
            "ordering": examined["ordering"],
        },
        render_dir=str(render_dir),
        upstream_dir=str(upstream),
        kubernetes_versions=versions,
        policy=policy_report,
    )
    return report.with_findings(
        extra_policy, check="policy", objects_examined=policy_objects_examined
    )
