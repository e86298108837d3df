"""The aws target: S3, IAM roles for service accounts, EKS."""

from __future__ import annotations

from typing import ClassVar

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ._seam import (
    Capability,
    ObjectStore,
    ObjectStoreArgs,
    Target,
    WorkloadIdentity,
    WorkloadIdentityArgs,
)

__all__ = ["AwsSettings", "AwsTarget"]


class AwsSettings(BaseModel):
    """Stack configuration for aws (``mlops-platform:aws``).

    Until the platform creates its own EKS cluster, it runs on an existing one:
    ``kubeconfig`` reaches it and ``oidc_provider_arn``/``oidc_issuer_url`` name its IAM OIDC
    provider, which service-account roles trust.
    """

    # Stack YAML uses camelCase keys (oidcProviderArn); Python uses snake_case.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    region: str = "us-east-1"
    kubeconfig: str
    oidc_provider_arn: str
    oidc_issuer_url: str
    kms_key_arn: str | None = None


class AwsTarget(Target):
    name: ClassVar[str] = "aws"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"object_store", "workload_identity"})

    def __init__(self, scope: pulumi.Resource, settings: AwsSettings) -> None:
        super().__init__(scope)
        self.settings = settings
        self._provider = k8s.Provider(
            "kubernetes",
            kubeconfig=settings.kubeconfig,
            opts=pulumi.ResourceOptions(parent=scope),
        )

    @property
    def kubernetes_provider(self) -> k8s.Provider:
        return self._provider

    def object_store(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> ObjectStore:
        from mlops_blueprints.components.object_store import S3Bucket, S3BucketArgs

        return S3Bucket(
            name, S3BucketArgs.from_request(args, kms_key_arn=self.settings.kms_key_arn), opts
        )

    def workload_identity(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> WorkloadIdentity:
        from mlops_blueprints.components.identity import IrsaIdentity, IrsaIdentityArgs

        return IrsaIdentity(
            name,
            IrsaIdentityArgs(
                namespace=args.namespace,
                service_account_name=args.service_account_name,
                oidc_provider_arn=self.settings.oidc_provider_arn,
                oidc_issuer_url=self.settings.oidc_issuer_url,
            ),
            opts,
        )
