"""Pure planning for the container registry: names, lifecycle rules, IAM documents, auth files."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Literal

from mlops_blueprints.targets._seam import validate_repository_name

__all__ = [
    "ECR_PULL_ACTIONS",
    "ECR_PUSH_ACTIONS",
    "RegistryGrantMode",
    "distribution_config",
    "docker_config_json",
    "ecr_grant_statements",
    "ecr_lifecycle_policy",
    "htpasswd_file",
    "validate_repository_name",
]

RegistryGrantMode = Literal["pull", "push"]

ECR_PULL_ACTIONS: tuple[str, ...] = (
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
)
# Pushing needs the pull actions too: clients check which layers exist before uploading.
ECR_PUSH_ACTIONS: tuple[str, ...] = (
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
)
REGISTRY_PORT = 5000


def ecr_lifecycle_policy(
    *, untagged_expiry_days: int, tagged_images_to_keep: int
) -> dict[str, Any]:
    """Expire untagged images after ``untagged_expiry_days``; keep the newest tagged ones.

    Rule 1 removes build leftovers (layers of re-pushed or failed builds); rule 2 keeps the
    ``tagged_images_to_keep`` most recently pushed tagged images and expires older ones.
    """
    if untagged_expiry_days < 1 or tagged_images_to_keep < 1:
        raise ValueError("lifecycle counts must be at least 1")
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images after {untagged_expiry_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_expiry_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep the {tagged_images_to_keep} newest tagged images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": tagged_images_to_keep,
                },
                "action": {"type": "expire"},
            },
        ]
    }


def ecr_grant_statements(*, mode: RegistryGrantMode, repository_arn: str) -> list[dict[str, Any]]:
    """Pull (or pull and push) on one repository, plus registry login.

    ``ecr:GetAuthorizationToken`` is an account-level action that supports no resource other
    than ``*``. The token it returns is only a login: every image operation made with it is
    still authorised against the repository statement, so it opens no other repository.
    """
    actions = list(ECR_PULL_ACTIONS)
    if mode == "push":
        actions += ECR_PUSH_ACTIONS
    return [
        {
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": "*",
        },
        {
            "Sid": "RepositoryPull" if mode == "pull" else "RepositoryPullPush",
            "Effect": "Allow",
            "Action": actions,
            "Resource": [repository_arn],
        },
    ]


def htpasswd_file(entries: Mapping[str, str]) -> str:
    """An htpasswd file of ``user: bcrypt hash`` entries, sorted, one per line."""
    for user, digest in entries.items():
        if ":" in user or not user:
            raise ValueError(f"invalid htpasswd user name {user!r}")
        if digest and not digest.startswith(("$2a$", "$2b$", "$2y$")):
            raise ValueError(f"the registry accepts bcrypt hashes only, not {digest[:4]!r}")
    return "".join(f"{user}:{entries[user]}\n" for user in sorted(entries))


def docker_config_json(*, registry_host: str, username: str, password: str) -> str:
    """The ``.dockerconfigjson`` of an image pull Secret for one registry."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps(
        {"auths": {registry_host: {"username": username, "password": password, "auth": auth}}},
        sort_keys=True,
    )


def distribution_config(*, realm: str) -> dict[str, Any]:
    """Configuration of the CNCF distribution registry: htpasswd auth, no deletes, JSON logs.

    Written as JSON, which every YAML parser reads, so no YAML library is needed. Abandoned
    uploads are purged by the registry's default maintenance (older than a week, daily).
    """
    return {
        "version": "0.1",
        "log": {"level": "info", "formatter": "json"},
        "storage": {
            "filesystem": {"rootdirectory": "/var/lib/registry"},
            # Manifests cannot be deleted over the API: pushed images stay reproducible.
            "delete": {"enabled": False},
        },
        "http": {
            "addr": f":{REGISTRY_PORT}",
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {"htpasswd": {"realm": realm, "path": "/auth/htpasswd"}},
    }
