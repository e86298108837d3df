"""Opinionated, forkable compositions: a level spec plus a target become a platform."""

from ._levels import LEVEL_FEATURES, LEVELS, Level, LevelFeatures, features_for_level, parse_level
from ._platform import Platform, PlatformArgs, deploy_level
from ._spec import CONFIG_NAMESPACE, PlatformSpec, load_spec

__all__ = [
    "CONFIG_NAMESPACE",
    "LEVELS",
    "LEVEL_FEATURES",
    "Level",
    "LevelFeatures",
    "Platform",
    "PlatformArgs",
    "PlatformSpec",
    "deploy_level",
    "features_for_level",
    "load_spec",
    "parse_level",
]
