"""Alert receivers and the Alertmanager routing tree, as validated data and pure functions.

Credentials never appear in the configuration: each receiver names a Kubernetes Secret in the
monitoring namespace, Alertmanager mounts it (``alertmanagerSpec.secrets``) and reads the value
from the file (``api_url_file``, ``url_file``, ``auth_password_file``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import validate_dns_label

__all__ = [
    "ALERTMANAGER_SECRETS_DIR",
    "HTTPS_PORT",
    "NULL_RECEIVER",
    "AlertReceiver",
    "EmailReceiver",
    "SlackReceiver",
    "WebhookReceiver",
    "alertmanager_config",
    "receiver_egress_ports",
    "receiver_secret_names",
    "validate_receiver",
]

# Where the operator mounts each Secret listed in alertmanagerSpec.secrets.
ALERTMANAGER_SECRETS_DIR: Final = "/etc/alertmanager/secrets"
# A receiver with no integrations: alerts routed there are dropped.
NULL_RECEIVER: Final = "null"
HTTPS_PORT: Final = 443

_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_SLACK_CHANNEL = re.compile(r"^[#@]?[a-z0-9][-_.a-z0-9]{0,79}$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?):(?P<port>[0-9]{1,5})$")


def _validate_receiver_name(value: str, *, field: str) -> None:
    validate_dns_label(value, field=field)
    if value == NULL_RECEIVER:
        raise BlueprintConfigError(
            field,
            value,
            f"'{NULL_RECEIVER}' is the built-in receiver that drops alerts; choose another name "
            "(e.g. 'platform-oncall').",
        )


def _validate_secret_ref(name: str, key: str, *, field: str, what: str) -> None:
    if not name:
        raise BlueprintConfigError(
            field,
            name,
            f"Name the Secret in the monitoring namespace that holds the {what} (e.g. "
            "'alertmanager-slack'); credentials are never written into the configuration.",
        )
    validate_dns_label(name, field=field)
    if not _SECRET_KEY.match(key):
        raise BlueprintConfigError(
            f"{field.rsplit('_name', 1)[0]}_key",
            key,
            "Use a Secret data key of letters, digits, '-', '_' or '.' (e.g. 'url').",
        )


def _secret_file(name: str, key: str) -> str:
    return f"{ALERTMANAGER_SECRETS_DIR}/{name}/{key}"


@dataclass(frozen=True)
class SlackReceiver:
    """Post alerts to a Slack incoming webhook.

    - ``name``: the receiver's name in Alertmanager (an RFC 1123 label, not ``null``).
    - ``webhook_secret_name``: Secret in the monitoring namespace holding the webhook URL.
    - ``webhook_secret_key`` (url): the Secret's key with the URL.
    - ``channel`` (None): overrides the webhook's default channel (e.g. ``#ml-alerts``).
    """

    name: str
    webhook_secret_name: str
    webhook_secret_key: str = "url"
    channel: str | None = None

    def __post_init__(self) -> None:
        _validate_receiver_name(self.name, field="receiver.name")
        _validate_secret_ref(
            self.webhook_secret_name,
            self.webhook_secret_key,
            field="receiver.webhook_secret_name",
            what="Slack webhook URL",
        )
        if self.channel is not None and not _SLACK_CHANNEL.match(self.channel):
            raise BlueprintConfigError(
                "receiver.channel",
                self.channel,
                "Use a Slack channel such as '#ml-alerts' (lowercase, up to 80 characters), "
                "or leave it unset for the webhook's own channel.",
            )

    @property
    def secret_names(self) -> tuple[str, ...]:
        return (self.webhook_secret_name,)

    @property
    def egress_ports(self) -> tuple[int, ...]:
        return (HTTPS_PORT,)

    def config(self) -> dict[str, Any]:
        slack: dict[str, Any] = {
            "api_url_file": _secret_file(self.webhook_secret_name, self.webhook_secret_key),
            "send_resolved": True,
        }
        if self.channel is not None:
            slack["channel"] = self.channel
        return {"name": self.name, "slack_configs": [slack]}


@dataclass(frozen=True)
class WebhookReceiver:
    """POST alerts to an HTTPS endpoint (an incident tool's Alertmanager integration).

    - ``name``: the receiver's name in Alertmanager (an RFC 1123 label, not ``null``).
    - ``url_secret_name``: Secret in the monitoring namespace holding the endpoint URL.
    - ``url_secret_key`` (url): the Secret's key with the URL.
    - ``port`` (443): the endpoint's TCP port, opened for Alertmanager's egress.
    """

    name: str
    url_secret_name: str
    url_secret_key: str = "url"
    port: int = HTTPS_PORT

    def __post_init__(self) -> None:
        _validate_receiver_name(self.name, field="receiver.name")
        _validate_secret_ref(
            self.url_secret_name,
            self.url_secret_key,
            field="receiver.url_secret_name",
            what="webhook URL",
        )
        if not 1 <= self.port <= 65535:
            raise BlueprintConfigError(
                "receiver.port", self.port, "Use the endpoint's TCP port (1-65535), e.g. 443."
            )

    @property
    def secret_names(self) -> tuple[str, ...]:
        return (self.url_secret_name,)

    @property
    def egress_ports(self) -> tuple[int, ...]:
        return (self.port,)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "webhook_configs": [
                {
                    "url_file": _secret_file(self.url_secret_name, self.url_secret_key),
                    "send_resolved": True,
                }
            ],
        }


@dataclass(frozen=True)
class EmailReceiver:
    """Send alerts by email through an SMTP relay, over TLS.

    - ``name``: the receiver's name in Alertmanager (an RFC 1123 label, not ``null``).
    - ``to``: recipient address(es), comma-separated.
    - ``from_address``: the sender address.
    - ``smarthost``: the SMTP relay as ``host:port`` (e.g.
      ``email-smtp.eu-west-1.amazonaws.com:587``).
    - ``auth_username`` (None): SMTP user; set together with ``password_secret_name``.
    - ``password_secret_name`` (None): Secret in the monitoring namespace holding the SMTP
      password.
    - ``password_secret_key`` (password): the Secret's key with the password.
    """

    name: str
    to: str
    from_address: str
    smarthost: str
    auth_username: str | None = None
    password_secret_name: str | None = None
    password_secret_key: str = "password"

    def __post_init__(self) -> None:
        _validate_receiver_name(self.name, field="receiver.name")
        addresses = [a.strip() for a in self.to.split(",")]
        if not all(_EMAIL.match(a) for a in addresses):
            raise BlueprintConfigError(
                "receiver.to",
                self.to,
                "Use one or more email addresses separated by commas (e.g. 'oncall@example.com').",
            )
        if not _EMAIL.match(self.from_address):
            raise BlueprintConfigError(
                "receiver.from_address",
                self.from_address,
                "Use the sender's email address (e.g. 'alertmanager@example.com').",
            )
        match = _HOST_PORT.match(self.smarthost)
        if match is None or not 1 <= int(match["port"]) <= 65535:
            raise BlueprintConfigError(
                "receiver.smarthost",
                self.smarthost,
                "Use the SMTP relay as host:port, e.g. 'smtp.example.com:587'.",
            )
        if (self.auth_username is None) != (self.password_secret_name is None):
            raise BlueprintConfigError(
                "receiver.password_secret_name",
                self.password_secret_name,
                "Set auth_username and password_secret_name together (SMTP authentication), "
                "or neither for a relay that accepts mail without a login.",
            )
        if self.password_secret_name is not None:
            _validate_secret_ref(
                self.password_secret_name,
                self.password_secret_key,
                field="receiver.password_secret_name",
                what="SMTP password",
            )

    @property
    def smtp_port(self) -> int:
        return int(self.smarthost.rsplit(":", 1)[1])

    @property
    def secret_names(self) -> tuple[str, ...]:
        return () if self.password_secret_name is None else (self.password_secret_name,)

    @property
    def egress_ports(self) -> tuple[int, ...]:
        return (self.smtp_port,)

    def config(self) -> dict[str, Any]:
        email: dict[str, Any] = {
            "to": self.to,
            "from": self.from_address,
            "smarthost": self.smarthost,
            "require_tls": True,
            "send_resolved": True,
        }
        if self.auth_username is not None and self.password_secret_name is not None:
            email["auth_username"] = self.auth_username
            email["auth_password_file"] = _secret_file(
                self.password_secret_name, self.password_secret_key
            )
        return {"name": self.name, "email_configs": [email]}


AlertReceiver = SlackReceiver | WebhookReceiver | EmailReceiver
_RECEIVER_TYPES: Final = (SlackReceiver, WebhookReceiver, EmailReceiver)


def validate_receiver(value: object, *, field: str) -> None:
    """``None`` or one of the receiver types."""
    if value is not None and not isinstance(value, _RECEIVER_TYPES):
        raise BlueprintConfigError(
            field,
            value,
            "Pass a SlackReceiver, WebhookReceiver or EmailReceiver, or None to drop alerts "
            "of this severity.",
        )


def _configured(receivers: Sequence[AlertReceiver | None]) -> list[AlertReceiver]:
    found: dict[str, AlertReceiver] = {}
    for receiver in receivers:
        if receiver is None:
            continue
        known = found.get(receiver.name)
        if known is not None and known != receiver:
            raise BlueprintConfigError(
                "receiver.name",
                receiver.name,
                "Two different receivers share this name; rename one, or pass the same "
                "receiver for both severities.",
            )
        found[receiver.name] = receiver
    return list(found.values())


def receiver_secret_names(receivers: Sequence[AlertReceiver | None]) -> list[str]:
    """Secrets Alertmanager mounts, each once, sorted."""
    return sorted({name for r in _configured(receivers) for name in r.secret_names})


def receiver_egress_ports(receivers: Sequence[AlertReceiver | None]) -> list[int]:
    """TCP ports Alertmanager must reach outside the cluster, each once, sorted."""
    return sorted({port for r in _configured(receivers) for port in r.egress_ports})


def alertmanager_config(
    *, critical: AlertReceiver | None, warning: AlertReceiver | None
) -> dict[str, Any]:
    """Alertmanager's ``route`` and ``receivers``: severity critical and warning each to its
    receiver, everything else (and an unset severity) to the ``null`` receiver.

    The chart's inhibition rules (critical silences warning of the same alert) are kept, as
    is its routing of the always-firing ``Watchdog`` alert to ``null``.
    """
    routes: list[dict[str, Any]] = [
        {"receiver": NULL_RECEIVER, "matchers": ['alertname = "Watchdog"']},
    ]
    for severity, receiver in (("critical", critical), ("warning", warning)):
        routes.append(
            {
                "receiver": receiver.name if receiver is not None else NULL_RECEIVER,
                "matchers": [f'severity = "{severity}"'],
            }
        )
    return {
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": routes,
        },
        "receivers": [
            {"name": NULL_RECEIVER},
            *(receiver.config() for receiver in _configured([critical, warning])),
        ],
    }
