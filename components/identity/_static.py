"""Generated S3-style credentials for a service account, for in-cluster stores (kind)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints.targets._seam import (
    service_account_token_settings,
    validate_api_access_reason,
    validate_dns_label,
)

from .._labels import standard_labels
from .._opts import child_opts
from ..kubernetes import identity_pod_labels, object_name

__all__ = ["StaticCredentialsIdentity", "StaticCredentialsIdentityArgs"]


@dataclass(frozen=True)
class StaticCredentialsIdentityArgs:
    """Arguments for :class:`StaticCredentialsIdentity`.

    - ``namespace``: the (existing) namespace of the service account and its Secret.
    - ``service_account_name``: created here; the Secret is ``<service_account_name>-credentials``.
    - ``api_access_reason`` (None): why pods of this identity call the Kubernetes API; only
      then does the service account mount a token (annotated with the reason).
    """

    namespace: pulumi.Input[str]
    service_account_name: str
    api_access_reason: str | None = None

    def __post_init__(self) -> None:
        validate_dns_label(self.service_account_name, field="service_account_name")
        validate_api_access_reason(self.api_access_reason)


class StaticCredentialsIdentity(pulumi.ComponentResource):
    """A service account plus a Secret with its own generated access key pair.

    The key pair starts with no permissions: the store's grants add them. The Secret holds
    ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` for ``envFrom``. Children:
    ``{name}-access-key`` and ``{name}-secret-key`` (random), ``{name}-service-account``,
    ``{name}-credentials`` (Secret).
    """

    namespace: pulumi.Output[str]
    service_account_name: pulumi.Output[str]
    credentials_secret_name: pulumi.Output[str]
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: StaticCredentialsIdentityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:identity:StaticCredentialsIdentity", name, None, opts)
        self._identity_name = args.service_account_name
        access_key = random.RandomString(
            f"{name}-access-key", length=20, special=False, lower=False, opts=child_opts(self)
        )
        secret_key = random.RandomPassword(
            f"{name}-secret-key", length=40, special=False, opts=child_opts(self)
        )
        labels = standard_labels("workload-identity", instance=args.service_account_name)
        automount, api_annotations = service_account_token_settings(args.api_access_reason)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": args.service_account_name,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": api_annotations,
            },
            automount_service_account_token=automount,
            opts=child_opts(self),
        )
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={
                "name": f"{args.service_account_name}-credentials",
                "namespace": args.namespace,
                "labels": labels,
            },
            type="Opaque",
            string_data={
                "AWS_ACCESS_KEY_ID": access_key.result,
                "AWS_SECRET_ACCESS_KEY": secret_key.result,
            },
            opts=child_opts(self),
        )
        self.namespace = pulumi.Output.from_input(args.namespace)
        self.service_account_name = object_name(self.service_account)
        self.credentials_secret_name = object_name(secret)
        self.access_key_id = access_key.result
        self.secret_access_key = pulumi.Output.secret(secret_key.result)
        self.register_outputs(
            {
                "service_account_name": self.service_account_name,
                "credentials_secret_name": self.credentials_secret_name,
            }
        )

    @property
    def identity_name(self) -> str:
        return self._identity_name

    @property
    def pod_labels(self) -> dict[str, str]:
        return identity_pod_labels(self._identity_name)
