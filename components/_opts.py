"""Small helpers shared by every component."""

from __future__ import annotations

import pulumi

__all__ = ["child_opts"]


def child_opts(parent: pulumi.Resource, **kwargs: object) -> pulumi.ResourceOptions:
    """Options for a child: parented (so providers flow down) plus any extra options."""
    return pulumi.ResourceOptions(parent=parent, **kwargs)
