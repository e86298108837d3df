"""Map the top-level folders onto one import root, ``mlops_blueprints``.

Metadata lives in pyproject.toml; this file only computes the package list, so a new
sub-package needs no registration anywhere.
"""

from setuptools import find_packages, setup

PACKAGE_ROOTS = {
    "mlops_blueprints": "src/mlops_blueprints",
    "mlops_blueprints.components": "components",
    "mlops_blueprints.blueprints": "blueprints",
    "mlops_blueprints.policies": "policies",
}


def _packages() -> list[str]:
    found: list[str] = []
    for prefix, folder in PACKAGE_ROOTS.items():
        found.append(prefix)
        found.extend(f"{prefix}.{sub}" for sub in find_packages(folder))
    return found


setup(packages=_packages(), package_dir=PACKAGE_ROOTS)
