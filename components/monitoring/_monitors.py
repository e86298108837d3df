"""ServiceMonitor and PodMonitor helpers for any component whose metrics Prometheus scrapes.

Both create a ``monitoring.coreos.com/v1`` object carrying ``MONITOR_LABELS`` (the label the
stack's Prometheus selects by) and depending on ``operator``, whatever installs the CRDs: the
``MonitoringStack``'s ``prometheus_operator`` release, or the stack itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import validate_dns_label

from .._labels import standard_labels
from ._plan import MONITOR_LABELS

__all__ = ["monitor_endpoint", "pod_monitor", "service_monitor"]

# An IANA service name: what Kubernetes accepts as a named container or Service port.
_PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")
_PATH = re.compile(r"^/[-._~/A-Za-z0-9]*$")
_SCHEMES = ("http", "https")


def _validate_selector(selector: Mapping[str, str]) -> None:
    if not selector:
        raise BlueprintConfigError(
            "selector",
            dict(selector),
            "Select the scraped objects by at least one label (e.g. "
            "{'app.kubernetes.io/name': 'mlflow'}); an empty selector matches every one in "
            "the namespace.",
        )
    for key, value in selector.items():
        if not key or not isinstance(value, str):
            raise BlueprintConfigError(
                "selector", dict(selector), "Use label keys and string label values."
            )


def monitor_endpoint(
    *,
    port: str | int,
    path: str = "/metrics",
    interval_seconds: int = 30,
    scheme: str = "http",
    number_key: str = "targetPort",
    insecure_skip_verify: bool = False,
) -> dict[str, Any]:
    """One scrape endpoint: a named port (``port``) or a number (``number_key``), validated.

    ``insecure_skip_verify`` accepts a self-signed certificate on an https endpoint (for a
    server that generates its own and publishes no CA); it is refused on http.
    """
    endpoint: dict[str, Any] = {}
    if isinstance(port, bool) or not isinstance(port, str | int):
        raise BlueprintConfigError("port", port, "Use a port name (e.g. 'http') or number.")
    if isinstance(port, str):
        if not _PORT_NAME.match(port):
            raise BlueprintConfigError(
                "port",
                port,
                "Use the port's name as declared (at most 15 lowercase letters, digits and "
                "'-', e.g. 'metrics'), or its number.",
            )
        endpoint["port"] = port
    else:
        if not 1 <= port <= 65535:
            raise BlueprintConfigError("port", port, "Use a port number from 1 to 65535.")
        endpoint[number_key] = port
    if not _PATH.match(path):
        raise BlueprintConfigError(
            "path", path, "Use an absolute URL path such as '/metrics' (no query string)."
        )
    if isinstance(interval_seconds, bool) or not 5 <= interval_seconds <= 600:
        raise BlueprintConfigError(
            "interval_seconds",
            interval_seconds,
            "Scrape every 5 to 600 seconds (30 is the platform default).",
        )
    if scheme not in _SCHEMES:
        raise BlueprintConfigError("scheme", scheme, "Use 'http' or 'https'.")
    endpoint.update({"path": path, "interval": f"{interval_seconds}s", "scheme": scheme})
    if insecure_skip_verify:
        if scheme != "https":
            raise BlueprintConfigError(
                "insecure_skip_verify",
                True,
                "Certificate checks apply to https only; drop it or use scheme='https'.",
            )
        endpoint["tlsConfig"] = {"insecureSkipVerify": True}
    return endpoint


def _monitor(
    kind: str,
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    selector: Mapping[str, str],
    endpoint: dict[str, Any],
    operator: pulumi.Resource,
    labels: Mapping[str, str] | None,
    parent: pulumi.Resource | None,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor or PodMonitor carrying ``MONITOR_LABELS``, after the operator's CRDs."""
    validate_dns_label(name, field="name")
    if not isinstance(operator, pulumi.Resource):
        raise BlueprintConfigError(
            "operator",
            operator,
            "Pass what installs the monitoring.coreos.com CRDs: the MonitoringStack's "
            "prometheus_operator (or the MonitoringStack itself).",
        )
    endpoints_key = "endpoints" if kind == "ServiceMonitor" else "podMetricsEndpoints"
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version="monitoring.coreos.com/v1",
        kind=kind,
        metadata={
            "name": name,
            "namespace": namespace,
            "labels": {
                **standard_labels("monitor", instance=name, extra=dict(labels or {})),
                **MONITOR_LABELS,
            },
        },
        spec={"selector": {"matchLabels": dict(selector)}, endpoints_key: [endpoint]},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[operator, *depends_on]),
    )


def service_monitor(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    selector: Mapping[str, str],
    port: str | int,
    operator: pulumi.Resource,
    path: str = "/metrics",
    interval_seconds: int = 30,
    scheme: str = "http",
    insecure_skip_verify: bool = False,
    labels: Mapping[str, str] | None = None,
    parent: pulumi.Resource | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor ``name`` in ``namespace`` scraping the Services matching ``selector``.

    ``port`` is the Service port's name, or a container port number (``targetPort``).
    The object carries ``MONITOR_LABELS`` (plus ``labels``) and depends on ``operator`` and
    ``depends_on``; ``resource_name`` is the Pulumi name (``f"{component}-service-monitor"``).
    """
    _validate_selector(selector)
    endpoint = monitor_endpoint(
        port=port,
        path=path,
        interval_seconds=interval_seconds,
        scheme=scheme,
        insecure_skip_verify=insecure_skip_verify,
    )
    return _monitor(
        "ServiceMonitor",
        resource_name,
        name=name,
        namespace=namespace,
        selector=selector,
        endpoint=endpoint,
        operator=operator,
        labels=labels,
        parent=parent,
        depends_on=depends_on,
    )


def pod_monitor(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    selector: Mapping[str, str],
    port: str | int,
    operator: pulumi.Resource,
    path: str = "/metrics",
    interval_seconds: int = 30,
    scheme: str = "http",
    labels: Mapping[str, str] | None = None,
    parent: pulumi.Resource | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.apiextensions.CustomResource:
    """A PodMonitor ``name`` in ``namespace`` scraping the pods matching ``selector``.

    ``port`` is the container port's name, or its number (``portNumber``; the pod must declare
    it). Labels and dependencies as for :func:`service_monitor`.
    """
    _validate_selector(selector)
    endpoint = monitor_endpoint(
        port=port,
        path=path,
        interval_seconds=interval_seconds,
        scheme=scheme,
        number_key="portNumber",
    )
    return _monitor(
        "PodMonitor",
        resource_name,
        name=name,
        namespace=namespace,
        selector=selector,
        endpoint=endpoint,
        operator=operator,
        labels=labels,
        parent=parent,
        depends_on=depends_on,
    )
