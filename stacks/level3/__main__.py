"""Level 3, full observability: Level 2 plus a tainted AWS Neuron node pool."""

from mlops_blueprints.blueprints import deploy_level

deploy_level(3)
