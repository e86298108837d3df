"""Entry point the Pulumi CLI runs for ``--policy-pack policies/pack``: serve every rule.

This is the one place that constructs a ``PolicyPack`` (which starts the analyzer server and
blocks); everything it uses is importable and tested without it.
"""

from mlops_blueprints.policies.pack import (
    PACK_DEFAULT_ENFORCEMENT,
    PACK_DESCRIPTION,
    PACK_NAME,
    pack_policies,
)
from pulumi_policy import PolicyPack

PolicyPack(
    name=PACK_NAME,
    policies=pack_policies(),
    enforcement_level=PACK_DEFAULT_ENFORCEMENT,
    description=PACK_DESCRIPTION,
)
