"""Monitoring: kube-prometheus-stack with the platform's alerts and dashboards, accelerator
exporters on the accelerator pools, and helpers that let any component be scraped."""

from ._alerting import AlertReceiver, EmailReceiver, SlackReceiver, WebhookReceiver
from ._dashboards import DASHBOARDS, dashboards
from ._monitors import pod_monitor, service_monitor
from ._plan import (
    COST_ALLOCATION_LABELS,
    DASHBOARD_LABEL,
    DASHBOARD_LABEL_VALUE,
    MONITOR_LABEL,
    MONITOR_LABELS,
    MONITORING_AGENTS_NAMESPACE,
    MONITORING_NAMESPACE,
    PROMETHEUS_POD_LABELS,
    dcgm_exporter_values,
    kube_prometheus_stack_values,
)
from ._rules import RULE_FILES, rule_groups
from ._stack import MonitoringStack, MonitoringStackArgs
from ._thresholds import AlertThresholds

__all__ = [
    "COST_ALLOCATION_LABELS",
    "DASHBOARDS",
    "DASHBOARD_LABEL",
    "DASHBOARD_LABEL_VALUE",
    "MONITORING_AGENTS_NAMESPACE",
    "MONITORING_NAMESPACE",
    "MONITOR_LABEL",
    "MONITOR_LABELS",
    "PROMETHEUS_POD_LABELS",
    "RULE_FILES",
    "AlertReceiver",
    "AlertThresholds",
    "EmailReceiver",
    "MonitoringStack",
    "MonitoringStackArgs",
    "SlackReceiver",
    "WebhookReceiver",
    "dashboards",
    "dcgm_exporter_values",
    "kube_prometheus_stack_values",
    "pod_monitor",
    "rule_groups",
    "service_monitor",
]
