"""Level 4, security-native: Level 3 hardened (customer-managed keys, access logs, HA)."""

from mlops_blueprints.blueprints import deploy_level

deploy_level(4)
