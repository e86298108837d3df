"""Level 1, standardized: data lake, experiment tracking and data versioning identities."""

from mlops_blueprints.blueprints import deploy_level

deploy_level(1)
