"""IAM role for a Kubernetes service account (IRSA)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_blueprints.targets._seam import (
    service_account_token_settings,
    validate_api_access_reason,
    validate_dns_label,
)

from .._labels import standard_labels
from .._opts import child_opts
from ..kubernetes import (
    METADATA_ENDPOINT_CIDR,
    allow_client_egress,
    identity_pod_labels,
    object_name,
)
from ._trust import irsa_trust_policy

__all__ = ["IrsaIdentity", "IrsaIdentityArgs"]


@dataclass(frozen=True)
class IrsaIdentityArgs:
    """Arguments for :class:`IrsaIdentity`.

    - ``namespace``: the (existing) namespace of the service account.
    - ``service_account_name``: created here, annotated with the role ARN.
    - ``oidc_provider_arn``: the ARN of the cluster's IAM OIDC provider.
    - ``oidc_issuer_url``: the cluster's OIDC issuer URL (``https://oidc.eks...``).
    - ``max_session_duration_seconds`` (3600): the shortest AWS allows.
    - ``api_access_reason`` (None): why pods of this identity call the Kubernetes API; only
      then does the service account mount a token (annotated with the reason).
    - ``tags``: added to the role.
    """

    namespace: pulumi.Input[str]
    service_account_name: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    max_session_duration_seconds: int = 3600
    api_access_reason: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_dns_label(self.service_account_name, field="service_account_name")
        validate_api_access_reason(self.api_access_reason)


class IrsaIdentity(pulumi.ComponentResource):
    """An IAM role trusted only by one service account, and that service account.

    The role starts with no permissions; grants (``bucket.grant_read(identity)``) attach
    least-privilege inline policies. Pods carrying ``pod_labels`` may reach AWS APIs (STS, S3,
    ECR, DynamoDB) over HTTPS, and never the instance metadata service. Children:
    ``{name}-role`` (IAM Role), ``{name}-service-account`` (ServiceAccount, token automount
    off) and ``{name}-aws-api-egress`` (NetworkPolicy).
    """

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    service_account_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: IrsaIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:identity:IrsaIdentity", name, None, opts)
        self._identity_name = args.service_account_name
        trust = pulumi.Output.all(
            args.oidc_provider_arn, args.oidc_issuer_url, args.namespace
        ).apply(
            lambda v: json.dumps(
                irsa_trust_policy(
                    oidc_provider_arn=v[0],
                    oidc_issuer=v[1],
                    namespace=v[2],
                    service_account=args.service_account_name,
                )
            )
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=trust,
            max_session_duration=args.max_session_duration_seconds,
            tags=args.tags,
            opts=child_opts(self),
        )
        automount, api_annotations = service_account_token_settings(args.api_access_reason)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": args.service_account_name,
                "namespace": args.namespace,
                "labels": standard_labels("workload-identity", instance=args.service_account_name),
                "annotations": {"eks.amazonaws.com/role-arn": self.role.arn, **api_annotations},
            },
            # Pods get an API token only with a stated reason (IRSA projects its own token).
            automount_service_account_token=automount,
            opts=child_opts(self),
        )
        self._pod_labels = identity_pod_labels(args.service_account_name)
        allow_client_egress(
            self,
            f"{name}-aws-api-egress",
            policy_name=f"{args.service_account_name}-aws-apis",
            namespace=args.namespace,
            pod_labels=self._pod_labels,
            peers=[{"ipBlock": {"cidr": "0.0.0.0/0", "except": [METADATA_ENDPOINT_CIDR]}}],
            ports=[443],
        )
        self.role_arn = self.role.arn
        self.role_name = self.role.name
        self.namespace = pulumi.Output.from_input(args.namespace)
        self.service_account_name = object_name(self.service_account)
        self.register_outputs(
            {
                "role_arn": self.role_arn,
                "service_account_name": self.service_account_name,
            }
        )

    @property
    def identity_name(self) -> str:
        return self._identity_name

    @property
    def pod_labels(self) -> dict[str, str]:
        return dict(self._pod_labels)

    @property
    def credentials_secret_name(self) -> None:
        return None  # the IRSA webhook projects a web-identity token instead of keys
