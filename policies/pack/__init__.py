"""The policy pack the Pulumi CLI runs (``pulumi up --policy-pack policies/pack``).

Importing this package (or ``._pack``) builds nothing and starts nothing: only the pack's
``__main__.py``, which the CLI executes, constructs the ``PolicyPack`` that serves the rules.
"""

from ._pack import (
    PACK_DEFAULT_ENFORCEMENT,
    PACK_DESCRIPTION,
    PACK_NAME,
    pack_config,
    pack_policies,
    suppression_applies,
)

__all__ = [
    "PACK_DEFAULT_ENFORCEMENT",
    "PACK_DESCRIPTION",
    "PACK_NAME",
    "pack_config",
    "pack_policies",
    "suppression_applies",
]
