"""Cost: OpenCost allocation, AWS budget alerts and cost-allocation labels.

The labels, chart values, egress rules and budget documents are pure functions, tested
directly. The components are rendered under mocks (with `mlops-bp check` on the result) and
their exact children and security-relevant inputs are asserted; every bad input is refused
with the field, the value and a fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.cost import (
    BUDGET_TAG_KEY,
    DEFAULT_PROMETHEUS_URL,
    LEVEL_LABEL,
    MODEL_LABEL,
    TEAM_LABEL,
    BudgetAlerts,
    BudgetAlertsArgs,
    CostAllocation,
    CostAllocationArgs,
    CustomPrices,
    budget_cost_filter,
    budget_notifications,
    cost_allocation_labels,
)
from mlops_blueprints.components.cost._plan import (
    OPENCOST_PORT,
    PRIVATE_CIDRS,
    parse_prometheus_url,
)
from mlops_blueprints.components.kubernetes import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    WorkloadNamespace,
    WorkloadNamespaceArgs,
)

from mlops_blueprints.render import RenderCapture, run_program
from mlops_blueprints.versions import CHARTS
from tests.components._helpers import by_name, children, raises, render_checked

pytestmark = pytest.mark.unit

RELEASE = "kubernetes:helm.sh/v3:Release"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
BUDGET = "aws:budgets/budget:Budget"
TOPIC = "arn:aws:sns:us-east-1:123456789012:budget-alerts"
PROMETHEUS_PODS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}

# --- cost-allocation labels -----------------------------------------------------------------


def test_labels_name_team_and_level() -> None:
    assert cost_allocation_labels("fraud", 3) == {
        "mlops-blueprints.io/team": "fraud",
        "mlops-blueprints.io/level": "3",
    }
    assert cost_allocation_labels("fraud", 4, model="churn-v2") == {
        TEAM_LABEL: "fraud",
        LEVEL_LABEL: "4",
        MODEL_LABEL: "churn-v2",
    }


@given(
    team=st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", fullmatch=True),
    level=st.integers(1, 4),
    model=st.none() | st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?", fullmatch=True),
)
def test_every_valid_label_value_is_kept_verbatim(team: str, level: int, model: str | None) -> None:
    labels = cost_allocation_labels(team, level, model)
    assert labels[TEAM_LABEL] == team
    assert labels[LEVEL_LABEL] == str(level)
    assert labels.get(MODEL_LABEL) == model
    assert all(len(value) <= 63 for value in labels.values())


@pytest.mark.parametrize(
    ("kwargs", "field", "value", "fix"),
    [
        ({"team": "", "level": 1}, "team", "", "Kubernetes label value"),
        ({"team": "data science", "level": 1}, "team", "data science", "Kubernetes label value"),
        ({"team": "-fraud", "level": 1}, "team", "-fraud", "starting and ending"),
        ({"team": "x" * 64, "level": 1}, "team", "x" * 64, "1-63"),
        ({"team": "fraud", "level": 0}, "level", 0, "1, 2, 3 or 4"),
        ({"team": "fraud", "level": 5}, "level", 5, "1, 2, 3 or 4"),
        ({"team": "fraud", "level": "3"}, "level", "3", "maturity level"),
        ({"team": "fraud", "level": True}, "level", True, "maturity level"),
        (
            {"team": "fraud", "level": 2, "model": "models:/churn"},
            "model",
            "models:/churn",
            "label value",
        ),
        ({"team": "fraud", "level": 2, "model": ""}, "model", "", "label value"),
    ],
)
def test_bad_label_values_are_refused(
    kwargs: dict[str, Any], field: str, value: object, fix: str
) -> None:
    raises(lambda: cost_allocation_labels(**kwargs), field, value, fix)


# --- OpenCost planning ---------------------------------------------------------------------


def test_prometheus_url_is_split_into_service_namespace_and_port() -> None:
    endpoint = parse_prometheus_url(DEFAULT_PROMETHEUS_URL)
    assert (endpoint.service, endpoint.namespace, endpoint.port) == (
        "kube-prometheus-stack-prometheus",
        "monitoring",
        9090,
    )
    https = parse_prometheus_url("https://prom.observability.svc.cluster.local/prometheus")
    assert (https.namespace, https.port) == ("observability", 443)
    assert parse_prometheus_url("http://prom.obs.svc").port == 80


# --- OpenCost rendered -----------------------------------------------------------------------


def _monitoring_namespace() -> WorkloadNamespace:
    return WorkloadNamespace("monitoring", WorkloadNamespaceArgs(namespace="monitoring"))


def _prometheus_release(namespace: WorkloadNamespace) -> k8s.helm.v3.Release:
    chart = CHARTS["kube-prometheus-stack"]
    return k8s.helm.v3.Release(
        "kube-prometheus-stack",
        name="kube-prometheus-stack",
        namespace=namespace.namespace_name,
        chart=chart.chart,
        version=chart.version,
        repository_opts={"repo": chart.repository},
        values={},
    )


@pytest.fixture(scope="module")
def kind(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        namespace = _monitoring_namespace()
        prometheus = _prometheus_release(namespace)
        CostAllocation(
            "cost",
            CostAllocationArgs(
                namespace=namespace.namespace_name,
                depends_on_prometheus=prometheus,
                monitor_labels={"release": "kube-prometheus-stack", "team": "platform"},
                labels=cost_allocation_labels("platform", 3),
            ),
        )

    return render_checked(program, tmp_path_factory.mktemp("cost-kind"))


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        namespace = WorkloadNamespace(
            "observability", WorkloadNamespaceArgs(namespace="observability")
        )
        CostAllocation(
            "opencost",
            CostAllocationArgs(
                namespace=namespace.namespace_name,
                prometheus_url="http://prom-server.observability.svc.cluster.local:8080",
                prometheus_pod_labels={"app": "prometheus"},
                pricing="aws-list-prices",
                cluster_id="acme-prod",
                api_server_cidrs=["10.0.0.0/16"],
                release_name="costs",
            ),
        )

    return render_checked(program, tmp_path_factory.mktemp("cost-aws"))


def _values(capture: RenderCapture, release: str) -> dict[str, Any]:
    registration = by_name(capture)[release]
    assert registration.type == RELEASE
    values: dict[str, Any] = registration.inputs["values"]
    return values


def test_cost_allocation_children(kind: RenderCapture, aws: RenderCapture) -> None:
    assert children(kind, "cost") == {"cost-release": RELEASE, "cost-network-policy": POLICY}
    assert children(aws, "opencost") == {
        "opencost-release": RELEASE,
        "opencost-network-policy": POLICY,
    }


def test_release_is_the_pinned_chart_in_the_monitoring_namespace(kind: RenderCapture) -> None:
    release = by_name(kind)["cost-release"]
    pinned = CHARTS["opencost"]
    assert (pinned.chart, pinned.version) == ("opencost", "2.5.17")
    assert release.inputs["chart"] == pinned.chart
    assert release.inputs["version"] == pinned.version
    assert release.inputs["repositoryOpts"] == {"repo": pinned.repository}
    assert release.inputs["namespace"] == "monitoring"
    assert release.inputs["name"] == "opencost"


def test_release_waits_for_prometheus(kind: RenderCapture) -> None:
    registrations = by_name(kind)
    prometheus = registrations["kube-prometheus-stack"].urn
    namespace = registrations["monitoring-namespace"].urn
    assert prometheus in registrations["cost-release"].dependencies
    # The namespace Output carries the dependency on the Namespace.
    assert namespace in registrations["cost-release"].dependencies
    assert namespace in registrations["cost-network-policy"].dependencies


def test_opencost_queries_the_given_prometheus_url(kind: RenderCapture, aws: RenderCapture) -> None:
    assert _values(kind, "cost-release")["opencost"]["prometheus"] == {
        "internal": {"enabled": False},
        "external": {"enabled": True, "url": DEFAULT_PROMETHEUS_URL},
    }
    assert _values(aws, "opencost-release")["opencost"]["prometheus"]["external"] == {
        "enabled": True,
        "url": "http://prom-server.observability.svc.cluster.local:8080",
    }


def test_no_ui_and_no_public_service(kind: RenderCapture, aws: RenderCapture) -> None:
    for values in (_values(kind, "cost-release"), _values(aws, "opencost-release")):
        assert values["service"] == {"enabled": True, "type": "ClusterIP"}
        opencost = values["opencost"]
        assert opencost["ui"] == {"enabled": False}
        assert opencost["mcp"] == {"enabled": False}
        assert "apiIngress" not in opencost["exporter"]
        assert values["plugins"] == {"enabled": False}


def test_metrics_are_scraped_with_the_given_labels(kind: RenderCapture, aws: RenderCapture) -> None:
    assert _values(kind, "cost-release")["opencost"]["metrics"] == {
        "serviceMonitor": {
            "enabled": True,
            "additionalLabels": {"release": "kube-prometheus-stack", "team": "platform"},
        }
    }
    monitor = _values(aws, "opencost-release")["opencost"]["metrics"]["serviceMonitor"]
    assert monitor["additionalLabels"] == {"release": "kube-prometheus-stack"}


def test_cloud_cost_is_off_and_pricing_follows_the_choice(
    kind: RenderCapture, aws: RenderCapture
) -> None:
    custom = _values(kind, "cost-release")["opencost"]
    assert custom["cloudCost"] == {"enabled": False}
    assert custom["carbonCost"] == {"enabled": False}
    assert custom["customPricing"]["enabled"] is True
    assert custom["customPricing"]["createConfigmap"] is True
    defaults = CustomPrices()
    assert custom["customPricing"]["costModel"] == {
        "description": "MLOps platform list prices",
        "CPU": defaults.cpu_per_core_hour,
        "RAM": defaults.ram_per_gib_hour,
        "GPU": defaults.gpu_per_hour,
        "storage": defaults.storage_per_gib_hour,
    }
    listed = _values(aws, "opencost-release")["opencost"]
    assert listed["cloudCost"] == {"enabled": False}
    assert listed["customPricing"]["enabled"] is False
    assert listed["customPricing"]["createConfigmap"] is False
    assert listed["exporter"]["defaultClusterId"] == "acme-prod"


def test_pod_runs_restricted_with_requests_and_a_memory_limit(kind: RenderCapture) -> None:
    values = _values(kind, "cost-release")
    assert values["podSecurityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1001,
        "runAsGroup": 1001,
        "fsGroup": 1001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    exporter = values["opencost"]["exporter"]
    assert exporter["securityContext"] == RESTRICTED_CONTAINER_SECURITY_CONTEXT
    assert exporter["resources"] == {
        "requests": {"cpu": "50m", "memory": "256Mi"},
        "limits": {"memory": "1024Mi"},
    }
    # The read-only root filesystem gets writable scratch space.
    mounts = {m["mountPath"] for m in exporter["extraVolumeMounts"]}
    assert mounts == {"/tmp", "/var/configs"}
    assert {v["name"] for v in values["extraVolumes"]} == {"tmp", "configs"}
    assert all("emptyDir" in v for v in values["extraVolumes"])
    # Cost-allocation labels reach the pod; the chart's selector labels are not repeated.
    assert values["podLabels"][TEAM_LABEL] == "platform"
    assert values["podLabels"][LEVEL_LABEL] == "3"
    assert "app.kubernetes.io/name" not in values["podLabels"]
    assert "app.kubernetes.io/instance" not in values["podLabels"]
    assert values["networkPolicies"] == {"enabled": False}


def test_network_policy_admits_prometheus_only_and_limits_egress(kind: RenderCapture) -> None:
    policy = by_name(kind)["cost-network-policy"].inputs
    assert policy["metadata"]["namespace"] == "monitoring"
    spec = policy["spec"]
    assert spec["podSelector"] == {
        "matchLabels": {
            "app.kubernetes.io/name": "opencost",
            "app.kubernetes.io/instance": "opencost",
        }
    }
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [
        {"from": [PROMETHEUS_PODS], "ports": [{"protocol": "TCP", "port": OPENCOST_PORT}]}
    ]
    dns, prometheus, api_server = spec["egress"]
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert prometheus == {"to": [PROMETHEUS_PODS], "ports": [{"protocol": "TCP", "port": 9090}]}
    assert api_server["to"] == [{"ipBlock": {"cidr": cidr}} for cidr in PRIVATE_CIDRS]
    assert api_server["ports"] == [
        {"protocol": "TCP", "port": 443},
        {"protocol": "TCP", "port": 6443},
    ]


def test_aws_list_prices_open_https_to_public_addresses_only(aws: RenderCapture) -> None:
    spec = by_name(aws)["opencost-network-policy"].inputs["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "costs"
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
        "podSelector": {"matchLabels": {"app": "prometheus"}},
    }
    _dns, prometheus, api_server, public = spec["egress"]
    assert prometheus == {"to": [peer], "ports": [{"protocol": "TCP", "port": 8080}]}
    assert api_server["to"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]
    assert public["ports"] == [{"protocol": "TCP", "port": 443}]
    (block,) = public["to"]
    assert block["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert set(block["ipBlock"]["except"]) >= {*PRIVATE_CIDRS, "169.254.0.0/16"}


def test_outputs(kind: RenderCapture, aws: RenderCapture) -> None:
    assert kind.outputs[by_name(kind)["cost"].urn] == {
        "api_url": "http://opencost.monitoring.svc.cluster.local:9003",
        "service_name": "opencost",
    }
    assert (
        aws.outputs[by_name(aws)["opencost"].urn]["api_url"]
        == "http://costs.observability.svc.cluster.local:9003"
    )


def _cost_args_program(**overrides: Any) -> Any:
    def program() -> CostAllocationArgs:
        return CostAllocationArgs(**overrides)

    return program


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("namespace", "Monitoring", "lowercase"),
        ("prometheus_url", "kube-prometheus-stack-prometheus:9090", "in-cluster Prometheus"),
        ("prometheus_url", "https://prometheus.example.com", "in-cluster Prometheus"),
        ("prometheus_url", "ftp://prom.monitoring.svc:9090", "http://<service>.<namespace>.svc"),
        ("prometheus_url", "http://prom.monitoring.svc:99999", "in-cluster Prometheus"),
        ("prometheus_url", "http://u:p@prom.monitoring.svc:9090", "credentials out of the URL"),
        ("prometheus_pod_labels", {}, "at least one label"),
        ("monitor_labels", {}, "at least one label"),
        ("pricing", "aws", "custom, aws-list-prices"),
        ("cluster_id", "", "label value"),
        ("api_server_cidrs", [], "networks the API server"),
        ("release_name", "OpenCost", "lowercase"),
        ("cpu_request", "0", "positive CPU quantity"),
        ("memory_request_mib", 8, "at least 16 MiB"),
        ("memory_limit_mib", 128, "at or above the request"),
    ],
)
def test_bad_cost_allocation_values_are_refused(field: str, value: object, fix: str) -> None:
    program = _cost_args_program(**{field: value})
    raises(lambda: run_program(program, project="p", stack="s", config={}), field, value, fix)


@pytest.mark.parametrize(
    ("field", "given", "offending", "fix"),
    [
        ("monitor_labels", {"release": "kube prometheus"}, "kube prometheus", "label value"),
        ("labels", {"team": "data science"}, "data science", "label value"),
        ("api_server_cidrs", ["10.0.0.0/16", "0.0.0.0/0"], "0.0.0.0/0", "internet"),
        ("api_server_cidrs", ["10.0.0.1/8"], "10.0.0.1/8", "CIDR form"),
    ],
)
def test_the_offending_item_of_a_collection_is_named(
    field: str, given: object, offending: str, fix: str
) -> None:
    raises(lambda: CostAllocationArgs(**{field: given}), field, offending, fix)  # type: ignore[arg-type]


def test_bad_label_key_is_refused() -> None:
    raises(
        lambda: CostAllocationArgs(monitor_labels={"-bad key": "x"}),
        "monitor_labels",
        "-bad key",
        "Kubernetes label key",
    )


def test_depends_on_must_be_a_resource() -> None:
    raises(
        lambda: CostAllocationArgs(depends_on_prometheus="kube-prometheus-stack"),  # type: ignore[arg-type]
        "depends_on_prometheus",
        "str",
        "resource that installs Prometheus",
    )


@pytest.mark.parametrize(
    ("price", "value"),
    [("cpu_per_core_hour", -0.01), ("gpu_per_hour", float("inf")), ("ram_per_gib_hour", True)],
)
def test_custom_prices_must_be_non_negative_numbers(price: str, value: object) -> None:
    raises(
        lambda: CustomPrices(**{price: value}),  # type: ignore[arg-type]
        f"custom_prices.{price}",
        value,
        "zero or more",
    )


def test_nothing_is_registered_before_a_bad_value_is_refused() -> None:
    registered: list[str] = []

    def program() -> None:
        registered.append("started")
        CostAllocation("cost", CostAllocationArgs(pricing="gcp"))  # type: ignore[arg-type]
        registered.append("constructed")

    with pytest.raises(Exception, match="pricing"):
        run_program(program, project="p", stack="s", config={})
    assert registered == ["started"]


# --- budgets -------------------------------------------------------------------------------


def test_cost_filter_uses_the_user_tag_format() -> None:
    assert budget_cost_filter("mlops-blueprints.io/environment", ["prod", "staging"]) == {
        "name": "TagKeyValue",
        "values": [
            "user:mlops-blueprints.io/environment$prod",
            "user:mlops-blueprints.io/environment$staging",
        ],
    }


def test_notifications_one_per_threshold_to_every_recipient() -> None:
    notifications = budget_notifications(
        actual_percent=[100, 50],
        forecasted_percent=[120],
        email_addresses=["finops@example.com"],
        sns_topic_arn=TOPIC,
    )
    assert [(n["notification_type"], n["threshold"]) for n in notifications] == [
        ("ACTUAL", 50.0),
        ("ACTUAL", 100.0),
        ("FORECASTED", 120.0),
    ]
    for notification in notifications:
        assert notification["comparison_operator"] == "GREATER_THAN"
        assert notification["threshold_type"] == "PERCENTAGE"
        assert notification["subscriber_email_addresses"] == ["finops@example.com"]
        assert notification["subscriber_sns_topic_arns"] == [TOPIC]


@pytest.fixture(scope="module")
def budget(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        BudgetAlerts(
            "budget",
            BudgetAlertsArgs(
                budget_name="acme-mlops-prod-monthly",
                monthly_limit_usd=2500,
                tag_values=["prod"],
                email_addresses=["finops@example.com", "platform@example.com"],
                tags={"mlops-blueprints.io/team": "platform"},
            ),
        )
        BudgetAlerts(
            "team-budget",
            BudgetAlertsArgs(
                budget_name="fraud-team",
                monthly_limit_usd=799.5,
                tag_key="mlops-blueprints.io/team",
                tag_values=["fraud", "fraud-research"],
                actual_thresholds_percent=(),
                forecasted_thresholds_percent=(90, 110),
                sns_topic_arn=TOPIC,
            ),
        )

    return render_checked(program, tmp_path_factory.mktemp("budget"))


def test_budget_children(budget: RenderCapture) -> None:
    assert children(budget, "budget") == {"budget-budget": BUDGET}
    assert children(budget, "team-budget") == {"team-budget-budget": BUDGET}


def test_budget_is_a_monthly_cost_budget_on_the_environment_tag(budget: RenderCapture) -> None:
    inputs = by_name(budget)["budget-budget"].inputs
    assert inputs["name"] == "acme-mlops-prod-monthly"
    assert inputs["budgetType"] == "COST"
    assert inputs["timeUnit"] == "MONTHLY"
    assert inputs["limitAmount"] == "2500.00"
    assert inputs["limitUnit"] == "USD"
    assert inputs["costFilters"] == [
        {"name": "TagKeyValue", "values": [f"user:{BUDGET_TAG_KEY}$prod"]}
    ]
    assert inputs["tags"] == {"mlops-blueprints.io/team": "platform"}
    assert [(n["notificationType"], n["threshold"]) for n in inputs["notifications"]] == [
        ("ACTUAL", 80),
        ("ACTUAL", 100),
        ("FORECASTED", 100),
    ]
    for notification in inputs["notifications"]:
        assert notification["subscriberEmailAddresses"] == [
            "finops@example.com",
            "platform@example.com",
        ]
        assert "subscriberSnsTopicArns" not in notification
        assert notification["comparisonOperator"] == "GREATER_THAN"
        assert notification["thresholdType"] == "PERCENTAGE"


def test_team_budget_alerts_a_topic_on_forecasts(budget: RenderCapture) -> None:
    inputs = by_name(budget)["team-budget-budget"].inputs
    assert inputs["limitAmount"] == "799.50"
    assert inputs["costFilters"] == [
        {
            "name": "TagKeyValue",
            "values": [
                "user:mlops-blueprints.io/team$fraud",
                "user:mlops-blueprints.io/team$fraud-research",
            ],
        }
    ]
    assert [(n["notificationType"], n["threshold"]) for n in inputs["notifications"]] == [
        ("FORECASTED", 90),
        ("FORECASTED", 110),
    ]
    for notification in inputs["notifications"]:
        assert notification["subscriberSnsTopicArns"] == [TOPIC]
        assert "subscriberEmailAddresses" not in notification


def test_budget_outputs(budget: RenderCapture) -> None:
    outputs = budget.outputs[by_name(budget)["budget"].urn]
    assert outputs["budget_name"] == "acme-mlops-prod-monthly"
    assert outputs["arn"].startswith("arn:aws:budgets:")


def _budget_args(**overrides: Any) -> BudgetAlertsArgs:
    fields: dict[str, Any] = {
        "budget_name": "acme",
        "monthly_limit_usd": 1000,
        "tag_values": ["prod"],
        "email_addresses": ["finops@example.com"],
    }
    fields.update(overrides)
    return BudgetAlertsArgs(**fields)


@pytest.mark.parametrize(
    ("overrides", "field", "value", "fix"),
    [
        (
            {"email_addresses": []},
            "email_addresses",
            [],
            "a budget with no alert recipients",
        ),
        ({"email_addresses": ["not-an-address"]}, "email_addresses", "not-an-address", "e-mail"),
        ({"email_addresses": ["a@b"]}, "email_addresses", "a@b", "e-mail address"),
        (
            {"email_addresses": ["a@example.com", "a@example.com"]},
            "email_addresses",
            ["a@example.com", "a@example.com"],
            "each address once",
        ),
        (
            {"email_addresses": [f"u{i}@example.com" for i in range(11)]},
            "email_addresses",
            [f"u{i}@example.com" for i in range(11)],
            "10 e-mail subscribers",
        ),
        ({"sns_topic_arn": "budget-alerts"}, "sns_topic_arn", "budget-alerts", "SNS topic ARN"),
        (
            {"actual_thresholds_percent": (0, 100)},
            "actual_thresholds_percent",
            0,
            "above 0 and at most 1000",
        ),
        (
            {"actual_thresholds_percent": (-5,)},
            "actual_thresholds_percent",
            -5,
            "above 0 and at most 1000",
        ),
        (
            {"forecasted_thresholds_percent": (1000.5,)},
            "forecasted_thresholds_percent",
            1000.5,
            "above 0 and at most 1000",
        ),
        (
            {"actual_thresholds_percent": (80, 100, 80)},
            "actual_thresholds_percent",
            80,
            "each threshold once",
        ),
        (
            {"forecasted_thresholds_percent": (100, 100.0)},
            "forecasted_thresholds_percent",
            100.0,
            "each threshold once",
        ),
        (
            {"actual_thresholds_percent": (), "forecasted_thresholds_percent": ()},
            "actual_thresholds_percent",
            [],
            "at least one threshold",
        ),
        (
            {
                "actual_thresholds_percent": tuple(range(10, 70, 10)),
                "forecasted_thresholds_percent": tuple(range(100, 600, 100)),
            },
            "forecasted_thresholds_percent",
            list(range(100, 600, 100)),
            "10 notifications per budget",
        ),
        ({"monthly_limit_usd": 0}, "monthly_limit_usd", 0, "positive monthly amount"),
        ({"monthly_limit_usd": -250.0}, "monthly_limit_usd", -250.0, "positive monthly amount"),
        (
            {"monthly_limit_usd": float("inf")},
            "monthly_limit_usd",
            float("inf"),
            "positive monthly amount",
        ),
        ({"budget_name": ""}, "budget_name", "", "1-100 characters"),
        ({"budget_name": "a:b"}, "budget_name", "a:b", "without ':'"),
        ({"budget_name": "x" * 101}, "budget_name", "x" * 101, "1-100 characters"),
        ({"tag_values": []}, "tag_values", [], "at least one tag value"),
        ({"tag_values": ["prod$1"]}, "tag_values", "prod$1", "AWS tag values"),
        ({"tag_values": ["a", "a"]}, "tag_values", "a", "distinct"),
        ({"tag_key": "aws:createdBy"}, "tag_key", "aws:createdBy", "not starting with 'aws:'"),
        ({"tag_key": ""}, "tag_key", "", "user-defined AWS tag key"),
    ],
)
def test_bad_budget_values_are_refused(
    overrides: dict[str, Any], field: str, value: object, fix: str
) -> None:
    raises(lambda: _budget_args(**overrides), field, value, fix)


def test_an_sns_topic_alone_is_enough_and_outputs_are_accepted() -> None:
    assert _budget_args(email_addresses=[], sns_topic_arn=TOPIC).sns_topic_arn == TOPIC

    def program() -> BudgetAlertsArgs:
        # An Output (e.g. a topic created in the same program) is not checked up front.
        topic = pulumi.Output.from_input("not-checked-until-deploy")
        return _budget_args(email_addresses=[], sns_topic_arn=topic)

    run_program(program, project="p", stack="s", config={})


def test_no_budget_is_registered_for_bad_input(tmp_path: Path) -> None:
    def program() -> None:
        BudgetAlerts("budget", _budget_args(email_addresses=[]))

    with pytest.raises(Exception, match="no alert recipients"):
        run_program(program, project="p", stack="s", config={})
