"""A customer-managed KMS key that cannot lock the account out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import WorkloadIdentity, validate_dns_label

from .._opts import child_opts
from ..identity import IrsaIdentity
from ._policy import (
    KeyUse,
    autoscaling_service_linked_role_arn,
    key_policy,
    key_use_statements,
    role_name_from_arn,
    validate_service_principal,
)

__all__ = ["KeyPrincipal", "KmsKey", "KmsKeyArgs"]

# A workload identity, or the ARN of an IAM role in the key's account.
KeyPrincipal = WorkloadIdentity | pulumi.Input[str]

MIN_ROTATION_PERIOD_DAYS = 90
MAX_ROTATION_PERIOD_DAYS = 2560
DEFAULT_ROTATION_PERIOD_DAYS = 365
DEFAULT_DELETION_WINDOW_DAYS = 30
_ALIAS = re.compile(r"^alias/[A-Za-z0-9/_-]{1,250}$")


@dataclass(frozen=True)
class KmsKeyArgs:
    """Arguments for :class:`KmsKey`.

    - ``alias``: the key's alias, ``alias/<name>`` (the ``alias/`` prefix is added when
      missing); ``alias/aws/`` is reserved for AWS-managed keys.
    - ``description`` ("Customer-managed key for the MLOps platform"): shown in the console.
    - ``admin_role_arns`` (none): IAM roles that manage the key (rotate, tag, change the policy,
      schedule deletion) but cannot encrypt or decrypt with it. The account root always keeps
      full control, so IAM administrators can still manage the key.
    - ``user_role_arns`` (none): IAM roles named in the key policy itself as users (encrypt,
      decrypt, grants for AWS resources). Prefer ``grant_encrypt_decrypt`` for roles in this
      account; use this for principals that IAM policies cannot cover.
    - ``service_principals`` (none): AWS services that use the key on the account's behalf,
      e.g. ``logs.<region>.amazonaws.com`` (limited by encryption context to this account's
      log groups); any other service is limited by ``aws:SourceAccount``.
    - ``enable_autoscaling_volume_encryption`` (off): name the EC2 Auto Scaling
      service-linked role as a key user, which managed node groups need to launch instances
      whose EBS volumes use this key. The role must already exist in the account.
    - ``rotation_period_days`` (365): automatic rotation is always on; 90 to 2560 days.
    - ``deletion_window_days`` (30): waiting period after a deletion is scheduled; 7 to 30.
    - ``tags``: added to the key.
    """

    alias: str
    description: str = "Customer-managed key for the MLOps platform"
    admin_role_arns: tuple[pulumi.Input[str], ...] = ()
    user_role_arns: tuple[pulumi.Input[str], ...] = ()
    service_principals: tuple[str, ...] = ()
    enable_autoscaling_volume_encryption: bool = False
    rotation_period_days: int = DEFAULT_ROTATION_PERIOD_DAYS
    deletion_window_days: int = DEFAULT_DELETION_WINDOW_DAYS
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        alias = self.alias if self.alias.startswith("alias/") else f"alias/{self.alias}"
        if not _ALIAS.match(alias) or alias.startswith("alias/aws/"):
            raise BlueprintConfigError(
                "alias",
                self.alias,
                "Use 'alias/<name>' with letters, digits, '/', '_' and '-' (e.g. "
                "'alias/mlops-platform'); 'alias/aws/' is reserved for AWS-managed keys.",
            )
        object.__setattr__(self, "alias", alias)
        if not MIN_ROTATION_PERIOD_DAYS <= self.rotation_period_days <= MAX_ROTATION_PERIOD_DAYS:
            raise BlueprintConfigError(
                "rotation_period_days",
                self.rotation_period_days,
                f"KMS rotates keys every {MIN_ROTATION_PERIOD_DAYS} to "
                f"{MAX_ROTATION_PERIOD_DAYS} days; use a value in that range (365 is usual).",
            )
        if not 7 <= self.deletion_window_days <= 30:
            raise BlueprintConfigError(
                "deletion_window_days",
                self.deletion_window_days,
                "KMS waits 7 to 30 days before deleting a key; use a value in that range "
                "(30 leaves the most time to cancel a mistaken deletion).",
            )
        for service in self.service_principals:
            validate_service_principal(service, field="service_principals")
        for arn in (*self.admin_role_arns, *self.user_role_arns):
            if isinstance(arn, str):
                role_name_from_arn(arn)


class KmsKey(pulumi.ComponentResource):
    """Customer-managed symmetric KMS key: rotation on, 30-day deletion window, retained.

    The key policy always lets the account root do ``kms:*`` (so IAM policies can grant use
    and the key can never be orphaned); named administrators manage but cannot use it.
    Roles get use through the intent methods, which attach a least-privilege inline policy
    to the role. Children (``{name}-<suffix>``): ``key``, ``alias``; each grant adds
    ``{name}-{mode}-{grantee}`` (IAM role policy).
    """

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: KmsKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:keys:KmsKey", name, None, opts)
        self._name = name
        self._args = args
        invoke_opts = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke_opts).account_id
        partition = aws.get_partition_output(opts=invoke_opts).partition
        policy = pulumi.Output.all(
            account_id,
            partition,
            pulumi.Output.all(*args.admin_role_arns),
            pulumi.Output.all(*args.user_role_arns),
        ).apply(
            lambda v: json.dumps(
                key_policy(
                    v[0],
                    admins=v[2],
                    users=[
                        *v[3],
                        *(
                            [autoscaling_service_linked_role_arn(v[0], partition=v[1])]
                            if args.enable_autoscaling_volume_encryption
                            else []
                        ),
                    ],
                    services=args.service_principals,
                    partition=v[1],
                )
            )
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True,
            rotation_period_in_days=args.rotation_period_days,
            deletion_window_in_days=args.deletion_window_days,
            # The policy is validated by assert_not_lockout; the safety check stays on.
            bypass_policy_lockout_safety_check=False,
            policy=policy,
            tags=args.tags,
            # Data encrypted under the key outlives the stack: destroying it leaves the key.
            opts=child_opts(self, retain_on_delete=True),
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=args.alias,
            target_key_id=self.key.key_id,
            opts=child_opts(self),
        )
        self.key_arn = self.key.arn
        self.key_id = self.key.key_id
        self.alias_name = alias.name
        self.register_outputs(
            {"key_arn": self.key_arn, "key_id": self.key_id, "alias_name": self.alias_name}
        )

    @property
    def service_principals(self) -> tuple[str, ...]:
        """The service principals the key policy allows."""
        return self._args.service_principals

    @property
    def allows_autoscaling_volumes(self) -> bool:
        """Whether managed node groups can launch instances with volumes under this key."""
        return self._args.enable_autoscaling_volume_encryption

    def grant_encrypt_decrypt(
        self, principal: KeyPrincipal, *, grantee: str | None = None
    ) -> aws.iam.RolePolicy:
        """Allow ``principal`` to encrypt, decrypt and generate data keys with this key.

        ``principal`` is an AWS workload identity or an IAM role ARN; for an ARN, ``grantee``
        (a short label) names the grant. Returns the role policy, to depend on.
        """
        return self._grant("encrypt-decrypt", principal, grantee)

    def grant_decrypt(
        self, principal: KeyPrincipal, *, grantee: str | None = None
    ) -> aws.iam.RolePolicy:
        """Allow ``principal`` to decrypt with this key, and nothing else."""
        return self._grant("decrypt", principal, grantee)

    def grant_cluster_secrets(
        self, principal: KeyPrincipal, *, grantee: str | None = None
    ) -> aws.iam.RolePolicy:
        """Allow an EKS cluster role to envelope-encrypt Kubernetes Secrets with this key."""
        return self._grant("cluster-secrets", principal, grantee)

    def _grant(
        self, mode: KeyUse, principal: KeyPrincipal, grantee: str | None
    ) -> aws.iam.RolePolicy:
        role_name: pulumi.Input[str]
        # ARNs first: a runtime-checkable protocol would match an Output, whose attributes
        # are lifted rather than missing.
        if isinstance(principal, str | pulumi.Output):
            if grantee is None:
                raise BlueprintConfigError(
                    "grantee",
                    None,
                    "Name the grantee when granting to a role ARN (e.g. grantee='ci'); it "
                    "becomes part of the grant's resource name.",
                )
            if isinstance(principal, str):
                role_name_from_arn(principal)
            role_name = pulumi.Output.from_input(principal).apply(role_name_from_arn)
            label = grantee
        elif isinstance(principal, IrsaIdentity):
            role_name = principal.role_name
            label = grantee or principal.identity_name
        else:
            raise BlueprintConfigError(
                "principal",
                type(principal).__name__,
                "A KMS key can only grant to an AWS workload identity (IrsaIdentity) or an "
                "IAM role ARN in the same account.",
            )
        validate_dns_label(label, field="grantee")
        document = self.key.arn.apply(
            lambda arn: json.dumps(
                {"Version": "2012-10-17", "Statement": key_use_statements(mode, arn)}
            )
        )
        return aws.iam.RolePolicy(
            f"{self._name}-{mode}-{label}",
            role=role_name,
            policy=document,
            opts=child_opts(self),
        )
