"""An ECR repository with the secure posture built in."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import Principal

from .._opts import child_opts
from ..identity import require_aws_role
from ._plan import (
    RegistryGrantMode,
    ecr_grant_statements,
    ecr_lifecycle_policy,
    validate_repository_name,
)

if TYPE_CHECKING:
    from mlops_blueprints.targets._seam import ContainerRegistry

__all__ = ["EcrRepository", "EcrRepositoryArgs"]


@dataclass(frozen=True)
class EcrRepositoryArgs:
    """Arguments for :class:`EcrRepository`.

    - ``repository_name``: physical name, e.g. ``mlops/serving`` (ECR naming rules, checked
      up front).
    - ``kms_key_arn``: a customer-managed key for the images; when unset the repository is
      still KMS-encrypted, with the AWS-managed ``aws/ecr`` key.
    - ``untagged_expiry_days`` (14): untagged images (build leftovers) expire after this.
    - ``tagged_images_to_keep`` (100): the newest tagged images kept; older ones expire.
    - ``tags``: added to the repository.
    """

    repository_name: str
    kms_key_arn: pulumi.Input[str] | None = None
    untagged_expiry_days: int = 14
    tagged_images_to_keep: int = 100
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_repository_name(self.repository_name)
        if self.untagged_expiry_days < 1:
            raise BlueprintConfigError(
                "untagged_expiry_days",
                self.untagged_expiry_days,
                "Expire untagged images after at least 1 day.",
            )
        if not 1 <= self.tagged_images_to_keep <= 10_000:
            raise BlueprintConfigError(
                "tagged_images_to_keep",
                self.tagged_images_to_keep,
                "Keep between 1 and 10000 tagged images (ECR holds at most 20000 per repository).",
            )


class EcrRepository(pulumi.ComponentResource):
    """ECR repository: immutable tags, scan on push, KMS-encrypted, lifecycle-managed, retained.

    Children (``{name}-<suffix>``): ``repository`` and ``lifecycle``; each grant adds a
    ``{name}-{pull|push}-{identity}`` IAM role policy.
    """

    repository_url: pulumi.Output[str]
    repository_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    registry_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: EcrRepositoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:registry:EcrRepository", name, None, opts)
        self._name = name
        self._granted: set[str] = set()
        encryption: dict[str, pulumi.Input[str]] = {"encryption_type": "KMS"}
        if args.kms_key_arn is not None:
            encryption["kms_key"] = args.kms_key_arn
        self.repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            # A tag, once pushed, always names the same image: what was tested is what runs.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[encryption],
            # Never delete a repository that still holds images.
            force_delete=False,
            tags=args.tags,
            # Images outlive the stack: destroying the stack leaves the repository in place.
            opts=child_opts(self, retain_on_delete=True),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=json.dumps(
                ecr_lifecycle_policy(
                    untagged_expiry_days=args.untagged_expiry_days,
                    tagged_images_to_keep=args.tagged_images_to_keep,
                )
            ),
            opts=child_opts(self),
        )
        self.repository_url = self.repository.repository_url
        self.repository_name = self.repository.name
        self.arn = self.repository.arn
        self.registry_id = self.repository.registry_id
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "repository_name": self.repository_name,
                "arn": self.arn,
            }
        )

    def grant_pull(self, identity: Principal) -> None:
        """Allow ``identity`` to log in and pull images from this repository only."""
        self._grant("pull", identity)

    def grant_push(self, identity: Principal) -> None:
        """Allow ``identity`` to pull and push images to this repository; never delete."""
        self._grant("push", identity)

    def _grant(self, mode: RegistryGrantMode, identity: Principal) -> None:
        role = require_aws_role(identity, service="An ECR repository")
        resource_name = f"{self._name}-{mode}-{role.identity_name}"
        if resource_name in self._granted:
            return  # the same grant twice is one grant
        self._granted.add(resource_name)
        document = self.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": ecr_grant_statements(mode=mode, repository_arn=arn),
                }
            )
        )
        aws.iam.RolePolicy(
            resource_name,
            role=role.role_name,
            policy=document,
            opts=child_opts(self),
        )


if TYPE_CHECKING:

    def _conforms(repository: EcrRepository) -> ContainerRegistry:
        return repository
