"""``mlops-bp cost``: the offline monthly estimate of a rendered stack.

The arithmetic is checked to the cent on a small hand-written inventory whose expected figures
were worked out by hand from the dated price table and the default assumptions. Unknown types
are listed, never dropped; a render without a region or a region without a table is a clear
error. The command itself prices real renders of Levels 1-3 on aws.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mlops_blueprints.cli import app
from mlops_blueprints.cost import (
    Assumptions,
    CostEstimateError,
    Estimate,
    available_regions,
    estimate,
    load_inventory,
    load_price_table,
    parse_assumptions,
    region_of,
    table_rows,
)
from mlops_blueprints.cost._estimate import NO_CHARGE
from mlops_blueprints.render import STACKS_ENV
from tests.conftest import REPO_ROOT, RenderFn

pytestmark = pytest.mark.unit

STACK = "urn:pulumi:aws::p::pulumi:pulumi:Stack::p-aws"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _urn(path: str, rtype: str, name: str) -> str:
    return f"urn:pulumi:aws::p::{path}{rtype}::{name}"


class _Inventory:
    """Builds inventory entries shaped like the render's, with parents by name."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._urns: dict[str, str] = {}

    def add(
        self,
        rtype: str,
        name: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        parent: str | None = None,
        component: bool = False,
    ) -> None:
        urn = _urn("", rtype, name)
        self._urns[name] = urn
        self.entries.append(
            {
                "urn": urn,
                "type": rtype,
                "name": name,
                "parent": self._urns[parent] if parent else STACK,
                "custom": not component,
                "inputs": dict(inputs or {}),
            }
        )


def _fixture_inventory() -> list[dict[str, Any]]:
    inv = _Inventory()
    inv.add("mlops:blueprints:Platform", "platform", component=True)
    for name, rtype in [
        ("cluster", "mlops:cluster:EksCluster"),
        ("network", "mlops:network:Vpc"),
        ("db", "mlops:database:RdsPostgres"),
        ("lake", "mlops:storage:DataLake"),
        ("pools", "mlops:nodepools:KarpenterNodePools"),
        ("serving", "mlops:serving:ServingStack"),
    ]:
        inv.add(rtype, name, parent="platform", component=True)
    inv.add("mlops:storage:S3Bucket", "lake-raw", parent="lake", component=True)

    # cluster: 73.00 + 220.75 + 9.60 = 303.35
    inv.add(
        "aws:eks/cluster:Cluster",
        "cluster-cluster",
        {"name": "demo", "upgradePolicy": {"supportType": "STANDARD"}},
        parent="cluster",
    )
    inv.add(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "cluster-lt",
        {"blockDeviceMappings": [{"ebs": {"volumeSize": 40, "volumeType": "gp3"}}]},
        parent="cluster",
    )
    inv.add(
        "aws:eks/nodeGroup:NodeGroup",
        "cluster-system",
        {
            "instanceTypes": ["m7i.large"],
            "capacityType": "ON_DEMAND",
            "scalingConfig": {"desiredSize": 3.0, "minSize": 2, "maxSize": 4},
            "launchTemplate": {"id": "cluster-lt-id", "version": "1"},
        },
        parent="cluster",
    )
    inv.add("aws:iam/role:Role", "cluster-role", {}, parent="cluster")

    # network: 2 x (32.85 + 4.50) + 2 x 3.65 + (14.60 + 0.20) = 96.80
    inv.add(
        "aws:ec2/subnet:Subnet",
        "network-private-a",
        {"availabilityZone": "us-east-1a"},
        parent="network",
    )
    for zone in ("a", "b"):
        inv.add("aws:ec2/natGateway:NatGateway", f"network-nat-{zone}", {}, parent="network")
        inv.add("aws:ec2/eip:Eip", f"network-eip-{zone}", {"domain": "vpc"}, parent="network")
    inv.add(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "network-endpoint-sts",
        {
            "serviceName": "com.amazonaws.us-east-1.sts",
            "vpcEndpointType": "Interface",
            "subnetIds": ["a", "b"],
        },
        parent="network",
    )
    inv.add(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "network-s3",
        {"serviceName": "com.amazonaws.us-east-1.s3", "vpcEndpointType": "Gateway"},
        parent="network",
    )

    # db: Multi-AZ doubles instance and storage: 1460 x 0.032 + 100 x 0.115 = 58.22
    inv.add(
        "aws:rds/instance:Instance",
        "db-instance",
        {
            "engine": "postgres",
            "instanceClass": "db.t4g.small",
            "multiAz": True,
            "allocatedStorage": 50,
            "storageType": "gp3",
        },
        parent="db",
    )

    # lake (bucket nested two components deep): 2.30 + 0.50 + 0.40 = 3.20
    inv.add("aws:s3/bucket:Bucket", "lake-raw-bucket", {"bucket": "raw"}, parent="lake-raw")

    # directly under the platform wrapper: 1.00 + 1.50 = 2.50
    inv.add("aws:kms/key:Key", "platform-key", {}, parent="platform")

    # pools: the default of 2 nodes is capped by the pool's limit of 1:
    # 730 x 0.2016 = 147.168 -> 147.17, plus 100Gi x 0.08 = 8.00
    inv.add(
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
        "pools-general-class",
        {
            "metadata": {"name": "general"},
            "spec": {"blockDeviceMappings": [{"ebs": {"volumeSize": "100Gi"}}]},
        },
        parent="pools",
    )
    inv.add(
        "kubernetes:karpenter.sh/v1:NodePool",
        "pools-general",
        {
            "metadata": {"name": "general"},
            "spec": {
                "limits": {"nodes": 1},
                "template": {
                    "metadata": {"labels": {"mlops-blueprints.io/hardware-class": "cpu"}},
                    "spec": {
                        "nodeClassRef": {"name": "general"},
                        "requirements": [
                            {
                                "key": "karpenter.k8s.aws/instance-category",
                                "operator": "In",
                                "values": ["c", "m", "r"],
                            },
                            {
                                "key": "karpenter.k8s.aws/instance-generation",
                                "operator": "Gt",
                                "values": ["5"],
                            },
                        ],
                    },
                },
            },
        },
        parent="pools",
    )
    inv.add(
        "kubernetes:karpenter.sh/v1:NodePool",
        "pools-fpga",
        {
            "metadata": {"name": "fpga"},
            "spec": {
                "template": {"metadata": {"labels": {"mlops-blueprints.io/hardware-class": "fpga"}}}
            },
        },
        parent="pools",
    )

    # serving: NLB 16.425 -> 16.43 (half up) + 730 LCU-hours x 0.006 = 4.38; 2 x 10Gi = 1.60
    inv.add(
        "kubernetes:core/v1:Service",
        "serving-lb",
        {"kind": "Service", "spec": {"type": "LoadBalancer"}},
        parent="serving",
    )
    inv.add(
        "kubernetes:apps/v1:StatefulSet",
        "serving-cache",
        {
            "spec": {
                "replicas": 2,
                "volumeClaimTemplates": [
                    {"spec": {"resources": {"requests": {"storage": "10Gi"}}}}
                ],
            }
        },
        parent="serving",
    )
    inv.add("kubernetes:core/v1:ConfigMap", "serving-config", {}, parent="serving")
    inv.add("kubernetes:helm.sh/v3:Release", "serving-release", {}, parent="serving")
    inv.add("aws:lambda/function:Function", "serving-hook", {}, parent="serving")
    return inv.entries


@pytest.fixture(scope="module")
def fixture_estimate() -> Estimate:
    return estimate(_fixture_inventory())


def _subtotals(result: Estimate) -> dict[str, Decimal]:
    return {name: subtotal for name, _kind, subtotal, _items in result.by_component()}


def test_totals_to_the_cent(fixture_estimate: Estimate) -> None:
    assert _subtotals(fixture_estimate) == {
        "cluster": Decimal("303.35"),
        "pools": Decimal("155.17"),
        "network": Decimal("96.80"),
        "db": Decimal("58.22"),
        "serving": Decimal("22.41"),
        "lake": Decimal("3.20"),
        "platform": Decimal("2.50"),
    }
    assert fixture_estimate.total == Decimal("641.65")
    assert fixture_estimate.to_json()["total"] == 641.65


def test_line_items_read_the_rendered_inputs(fixture_estimate: Estimate) -> None:
    items = {(i.resource, i.unit): i for i in fixture_estimate.items}
    nodes = items[("cluster-system", "instance-hour")]
    assert (nodes.quantity, nodes.unit_price, nodes.monthly) == (
        Decimal("2190.0"),
        Decimal("0.1008"),
        Decimal("220.75"),
    )
    assert not nodes.assumed
    disks = items[("cluster-system", "GB-month")]
    assert (disks.quantity, disks.monthly) == (Decimal(120), Decimal("9.60"))
    database = items[("db-instance", "instance-hour")]
    assert database.quantity == Decimal(1460)
    assert "Multi-AZ" in database.description
    endpoint = items[("network-endpoint-sts", "AZ-hour")]
    assert endpoint.quantity == Decimal(1460)
    assert endpoint.description == "interface endpoint sts in 2 AZs"
    pool = items[("pools-general", "instance-hour")]
    assert pool.assumed
    assert pool.description == "pool general: 1 x m7i.xlarge on average"
    balancer = items[("serving-lb", "balancer-hour")]
    assert balancer.monthly == Decimal("16.43")


def test_unknown_and_unresolvable_types_are_listed_not_dropped(
    fixture_estimate: Estimate,
) -> None:
    listed = {(n.resource, n.resource_type): n for n in fixture_estimate.not_priced}
    assert set(listed) == {
        ("serving-hook", "aws:lambda/function:Function"),
        ("pools-fpga", "kubernetes:karpenter.sh/v1:NodePool"),
    }
    assert listed[("serving-hook", "aws:lambda/function:Function")].component == "serving"
    assert "no price mapping" in listed[("serving-hook", "aws:lambda/function:Function")].reason
    assert (
        "pool.fpga.instance_type"
        in listed[("pools-fpga", "kubernetes:karpenter.sh/v1:NodePool")].reason
    )
    free = {rtype: count for rtype, count, _reason in fixture_estimate.no_charge}
    assert free == {
        "aws:ec2/launchTemplate:LaunchTemplate": 1,
        "aws:ec2/subnet:Subnet": 1,
        "aws:ec2/vpcEndpoint:VpcEndpoint": 1,
        "aws:iam/role:Role": 1,
        "kubernetes:core/v1:ConfigMap": 1,
        "kubernetes:helm.sh/v3:Release": 1,
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": 1,
    }
    # Every custom resource is accounted for exactly once.
    custom = [r for r in _fixture_inventory() if r["custom"]]
    priced = {i.resource for i in fixture_estimate.items}
    assert len(priced) + sum(free.values()) + len(listed) == len(custom)
    json_out = fixture_estimate.to_json()
    assert {e["resource"] for e in json_out["not_priced"]} == {"serving-hook", "pools-fpga"}


def test_assumptions_are_overridable_and_change_the_arithmetic() -> None:
    changed = estimate(
        _fixture_inventory(),
        assumptions=parse_assumptions(
            ["hours_per_month=720", "pool.general.nodes=0", "nat_gb_per_gateway=1000"]
        ),
    )
    subtotals = _subtotals(changed)
    # 720 h: EKS 72.00, nodes 3 x 720 x 0.1008 = 217.728 -> 217.73, disks 9.60
    assert subtotals["cluster"] == Decimal("299.33")
    # The general pool's root volumes follow its node count: nothing.
    assert subtotals["pools"] == Decimal("0.00")
    # NAT: 2 x (720 x 0.045 + 1000 x 0.045) = 154.80; EIP 2 x 3.60; endpoint 14.40 + 0.20
    assert subtotals["network"] == Decimal("176.60")
    other = estimate(
        _fixture_inventory(),
        assumptions=parse_assumptions(["pool.general.instance_type=c7i.large"]),
    )
    assert _subtotals(other)["pools"] == Decimal("73.15")  # 730 x 0.08925 = 65.15 + 8.00


def test_an_assumed_type_the_pool_forbids_is_not_priced() -> None:
    result = estimate(
        _fixture_inventory(),
        assumptions=parse_assumptions(["pool.general.instance_type=g6.xlarge"]),
    )
    (general,) = [n for n in result.not_priced if n.resource == "pools-general"]
    assert "not allowed by the pool" in general.reason
    old = estimate(
        _fixture_inventory(), assumptions=parse_assumptions(["pool.general.instance_type=m5.large"])
    )
    (general,) = [n for n in old.not_priced if n.resource == "pools-general"]
    assert "generation > 5" in general.reason


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("nat_gb_per_gateway", "key=value"),
        ("bogus=1", "unknown assumption 'bogus'"),
        ("s3_gb_per_bucket=lots", "not a number"),
        ("s3_gb_per_bucket=-1", "zero or more"),
        ("hours_per_month=800", "744 hours"),
        ("logs_compression_ratio=2", "between 0 and 1"),
        ("pool.gpu.instance_type=huge", "EC2 instance type"),
    ],
)
def test_bad_assumptions_are_refused(item: str, message: str) -> None:
    with pytest.raises(CostEstimateError, match=re.escape(message)):
        parse_assumptions([item])


def test_region_comes_from_the_render() -> None:
    assert region_of(_fixture_inventory()) == "us-east-1"
    eu = [
        {"type": "aws:ec2/subnet:Subnet", "inputs": {"availabilityZone": "eu-west-1b"}},
        {
            "type": "aws:ec2/vpcEndpoint:VpcEndpoint",
            "inputs": {"serviceName": "com.amazonaws.eu-west-1.logs"},
        },
    ]
    assert region_of(eu) == "eu-west-1"


def test_missing_region_is_an_error_that_names_the_fix() -> None:
    inventory = [
        {
            "urn": "urn:x::kms",
            "type": "aws:kms/key:Key",
            "name": "k",
            "parent": None,
            "custom": True,
            "inputs": {},
        }
    ]
    with pytest.raises(CostEstimateError, match=r"does not say which region.*--region"):
        estimate(inventory)
    # With the region given, the same inventory prices.
    assert estimate(inventory, region="us-east-1").total == Decimal("2.50")


def test_two_regions_are_an_error() -> None:
    inventory = [
        {"type": "aws:ec2/subnet:Subnet", "inputs": {"availabilityZone": "us-east-1a"}},
        {"type": "aws:ec2/subnet:Subnet", "inputs": {"availabilityZone": "us-west-2a"}},
    ]
    with pytest.raises(CostEstimateError, match="spans regions us-east-1, us-west-2"):
        region_of(inventory)


def test_a_region_without_a_price_table_is_an_error() -> None:
    with pytest.raises(CostEstimateError) as caught:
        estimate(_fixture_inventory(), region="ap-south-2")
    message = str(caught.value)
    assert "no aws price table for region 'ap-south-2'" in message
    assert "us-east-1" in message


def test_an_inventory_without_aws_resources_is_refused() -> None:
    inventory = [
        {
            "urn": "u",
            "type": "kubernetes:core/v1:ConfigMap",
            "name": "c",
            "custom": True,
            "inputs": {},
        }
    ]
    with pytest.raises(CostEstimateError, match="no aws resources"):
        estimate(inventory, region="us-east-1")


def test_without_a_wrapper_the_outermost_components_group(fixture_estimate: Estimate) -> None:
    inventory = [e for e in _fixture_inventory() if e["name"] != "platform"]
    for entry in inventory:
        if entry["parent"] == _urn("", "mlops:blueprints:Platform", "platform"):
            entry["parent"] = STACK
    result = estimate(inventory)
    assert _subtotals(result)["lake"] == Decimal("3.20")
    assert _subtotals(result)["(stack)"] == Decimal("2.50")  # the key has no component now
    assert result.total == fixture_estimate.total


def test_identical_charges_print_as_one_row(fixture_estimate: Estimate) -> None:
    network = next(
        items for name, _k, _s, items in fixture_estimate.by_component() if name == "network"
    )
    rows = {row.description: row for row in table_rows(network)}
    assert rows["NAT gateway"].count == 2
    assert rows["NAT gateway"].quantity == Decimal(1460)
    assert rows["NAT gateway"].monthly == Decimal("65.70")


# --- the price table ------------------------------------------------------------------------


def test_price_table_is_dated_and_cites_its_pages() -> None:
    table = load_price_table("us-east-1")
    assert table.as_of == "2026-11-29"
    assert table.currency == "USD"
    assert "on-demand" in table.source
    for name, section in table.sections.items():
        assert section.get("source"), f"section {name} names no pricing page"
    assert available_regions() == ["us-east-1"]
    # Every default the estimate relies on is priced.
    assumptions = Assumptions()
    for pool in assumptions.pool_defaults.values():
        assert table.price("ec2", "instance_hour", pool.instance_type) is not None
    assert table.price("ec2", "instance_hour", "m7i.large") is not None  # system node group
    assert table.price("rds", "instance_hour", "db.t4g.medium") is not None


def test_a_table_without_a_date_is_refused(tmp_path: Path) -> None:
    (tmp_path / "aws-eu-west-1.json").write_text(
        json.dumps({"provider": "aws", "region": "eu-west-1", "currency": "EUR", "source": "x"})
    )
    with pytest.raises(CostEstimateError, match="lacks as_of"):
        load_price_table("eu-west-1", directory=tmp_path)


def test_no_charge_types_are_never_also_priced() -> None:
    table = load_price_table("us-east-1")
    assert "aws:eks/cluster:Cluster" not in NO_CHARGE
    assert table.price("eks", "cluster_hour") == Decimal("0.10")


# --- the command -----------------------------------------------------------------------------


def _invoke(args: Sequence[str]) -> Result:
    return CliRunner().invoke(app, list(args), env={STACKS_ENV: str(REPO_ROOT / "stacks")})


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


@pytest.mark.slow
def test_cost_renders_level_1_on_aws_and_prices_it() -> None:
    result = _invoke(["cost", "--level", "1", "--target", "aws", "--format", "json"])
    assert result.exit_code == 0, _plain(result.stderr)
    report = json.loads(result.stdout)
    components = {c["component"]: c["monthly"] for c in report["components"]}
    assert {
        "cluster",
        "network",
        "node-pools",
        "experiment-tracking-database",
        "data-lake",
        "platform-key",
    } <= set(components)
    assert all(value > 0 for value in components.values())
    assert report["total"] > 0
    assert report["total"] == pytest.approx(sum(components.values()), abs=0.001)
    assert report["region"] == "us-east-1"
    assert report["prices"]["as_of"] == "2026-11-29"
    assert report["not_priced"] == []
    assumptions = {a["key"]: a["value"] for a in report["assumptions"]}
    assert assumptions["hours_per_month"] == "730"


@pytest.mark.slow
@pytest.mark.parametrize("level", [1, 2, 3])
def test_every_aws_level_prints_an_estimate(level: int, render_level: RenderFn) -> None:
    rendered = render_level(level, "aws").files.out_dir
    result = _invoke(["cost", "--rendered", str(rendered)])
    assert result.exit_code == 0, _plain(result.stderr)
    out = _plain(result.stdout)
    total = re.search(r"Monthly total: USD ([\d,]+\.\d\d)", out)
    assert total is not None, out
    assert Decimal(total[1].replace(",", "")) > 0
    for heading in ("Not priced", "No direct charge", "Assumptions", "hours_per_month = 730"):
        assert heading in out
    # Higher levels add accelerator pools: the estimate grows with the level.
    data = estimate(load_inventory(rendered))
    pools = {i.description for i in data.items if i.resource_type.endswith(":NodePool")}
    assert any("g6.xlarge" in d for d in pools) == (level >= 2)
    assert any("inf2.xlarge" in d for d in pools) == (level >= 3)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["cost", "--target", "kind"], "only aws is priced"),
        (["cost", "--format", "xml"], "use table or json"),
        (["cost", "--level", "9"], "use 1, 2, 3 or 4"),
        (["cost", "--assume", "nope=1"], "unknown assumption 'nope'"),
        (["cost", "--rendered", "/nonexistent/render"], "not a rendered folder"),
        (["cost", "--rendered", "/nonexistent/render", "--level", "2"], "drop --level"),
    ],
)
def test_bad_usage_exits_2_with_one_error_line(args: list[str], fragment: str) -> None:
    result = _invoke(args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = _plain(result.stderr).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert result.stdout == ""


def test_a_region_without_prices_exits_2(tmp_path: Path) -> None:
    (tmp_path / "inventory.json").write_text(json.dumps(_fixture_inventory()))
    result = _invoke(["cost", "--rendered", str(tmp_path), "--region", "eu-west-1"])
    assert result.exit_code == 2
    line = _plain(result.stderr).strip()
    assert line.startswith("error: no aws price table for region 'eu-west-1'")


def test_json_of_a_fixture_render(tmp_path: Path) -> None:
    (tmp_path / "inventory.json").write_text(json.dumps(_fixture_inventory()))
    result = _invoke(["cost", "--rendered", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["total"] == 641.65
    assert [c["component"] for c in report["components"]][:2] == ["cluster", "pools"]
    assert {e["type"] for e in report["not_priced"]} == {
        "aws:lambda/function:Function",
        "kubernetes:karpenter.sh/v1:NodePool",
    }
