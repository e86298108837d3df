"""MLOps rules: model serving, accelerator placement, data classification and PII discovery,
the online feature store, the pipeline root, and cost-allocation labels."""

from typing import Final

from .._rule import Rule
from ._allocation import (
    ENVIRONMENT_LABEL,
    LEVEL_LABEL,
    METADATA_LABELS,
    MODEL_LABEL,
    POD_TEMPLATE_LABELS,
    TEAM_LABEL,
)
from ._allocation import RULES as _ALLOCATION_RULES
from ._data import (
    CLASSIFICATION_TAG,
    DATA_CLASSIFICATIONS,
    ONLINE_STORE_NAME,
    ONLINE_STORE_PURPOSE,
    PERSONAL_DATA_CLASSIFICATIONS,
    PIPELINE_LAUNCHER_CONFIGMAP,
)
from ._data import RULES as _DATA_RULES
from ._serving import (
    ACCELERATORS,
    AGENT_DAEMONSET_NAMESPACES,
    HARDWARE_CLASS_LABEL,
    MODEL_URI_ANNOTATION,
    Accelerator,
)
from ._serving import RULES as _SERVING_RULES

RULES: Final[tuple[Rule, ...]] = (*_SERVING_RULES, *_DATA_RULES, *_ALLOCATION_RULES)

__all__ = [
    "ACCELERATORS",
    "AGENT_DAEMONSET_NAMESPACES",
    "CLASSIFICATION_TAG",
    "DATA_CLASSIFICATIONS",
    "ENVIRONMENT_LABEL",
    "HARDWARE_CLASS_LABEL",
    "LEVEL_LABEL",
    "METADATA_LABELS",
    "MODEL_LABEL",
    "MODEL_URI_ANNOTATION",
    "ONLINE_STORE_NAME",
    "ONLINE_STORE_PURPOSE",
    "PERSONAL_DATA_CLASSIFICATIONS",
    "PIPELINE_LAUNCHER_CONFIGMAP",
    "POD_TEMPLATE_LABELS",
    "RULES",
    "TEAM_LABEL",
    "Accelerator",
]
