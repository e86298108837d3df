"""Level 2, automated CI/CD: Level 1 plus a tainted NVIDIA GPU node pool and an image registry."""

from mlops_blueprints.blueprints import deploy_level

deploy_level(2)
