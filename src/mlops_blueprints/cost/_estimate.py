"""Turn a rendered inventory into priced monthly line items, grouped by component.

The render records every resource's type, name, parent and inputs (``inventory.json``). Each
priced type has a pricer that reads what the inputs say (instance types, node counts, storage
sizes, AZ counts) and takes the rest from :class:`Assumptions`. Types that AWS does not bill
are counted as "no direct charge" with the reason; anything else is listed as "not priced",
never dropped.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from ._assumptions import Assumptions
from ._prices import CostEstimateError, PriceTable, load_price_table

__all__ = [
    "Estimate",
    "LineItem",
    "NotPriced",
    "estimate",
    "load_inventory",
    "region_of",
]

CENT = Decimal("0.01")
Resource = Mapping[str, Any]

_ENDPOINT_REGION = re.compile(r"^com\.amazonaws\.(?P<region>[a-z]{2}(-[a-z]+)+-\d+)\.")
_AZ_REGION = re.compile(r"^(?P<region>[a-z]{2}(-[a-z]+)+-\d+)[a-z]$")
_QUANTITY = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<unit>[KMGTP]i?|)$")
_BYTES = {
    "": 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}

IN_CLUSTER_REASON = "runs on the cluster's nodes, which are priced with the node groups and pools"
HELM_REASON = (
    "a Helm release: its pods run on the priced nodes; volumes or load balancers its chart "
    "creates are not visible in the render and are not priced"
)
# Types AWS does not bill for themselves (configuration, or billed through another resource).
NO_CHARGE: Mapping[str, str] = {
    "aws:ec2/vpc:Vpc": "VPCs, subnets, routes and security groups have no charge",
    "aws:ec2/subnet:Subnet": "VPCs, subnets, routes and security groups have no charge",
    "aws:ec2/routeTable:RouteTable": "VPCs, subnets, routes and security groups have no charge",
    "aws:ec2/route:Route": "VPCs, subnets, routes and security groups have no charge",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        "VPCs, subnets, routes and security groups have no charge"
    ),
    "aws:ec2/internetGateway:InternetGateway": "internet gateways have no hourly charge",
    "aws:ec2/securityGroup:SecurityGroup": (
        "VPCs, subnets, routes and security groups have no charge"
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": (
        "VPCs, subnets, routes and security groups have no charge"
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "VPCs, subnets, routes and security groups have no charge"
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "VPCs, subnets, routes and security groups have no charge"
    ),
    "aws:ec2/tag:Tag": "tags have no charge",
    "aws:ec2/launchTemplate:LaunchTemplate": (
        "a template; the instances launched from it are priced with their node group"
    ),
    "aws:ec2/flowLog:FlowLog": (
        "flow logs are billed as ingestion into their log group, priced there"
    ),
    "aws:eks/addon:Addon": "EKS add-ons have no charge of their own; their pods run on the nodes",
    "aws:eks/accessEntry:AccessEntry": "EKS access configuration has no charge",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": (
        "EKS access configuration has no charge"
    ),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": (
        "EKS access configuration has no charge"
    ),
    "aws:s3/bucketPolicy:BucketPolicy": "bucket configuration has no charge",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "bucket configuration has no charge",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "bucket configuration has no charge",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket configuration has no charge (KMS requests are priced with the key)"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": (
        "bucket configuration has no charge (old versions count in the bucket's assumed volume)"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "bucket configuration has no charge"
    ),
    "aws:s3/bucketLogging:BucketLogging": (
        "access logs are stored in the target bucket, priced with that bucket"
    ),
    "aws:kms/alias:Alias": "key aliases have no charge",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "repository configuration has no charge",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "repository configuration has no charge",
    "aws:rds/parameterGroup:ParameterGroup": "database configuration has no charge",
    "aws:rds/subnetGroup:SubnetGroup": "database configuration has no charge",
    "aws:elasticache/subnetGroup:SubnetGroup": "cache configuration has no charge",
    "aws:elasticache/parameterGroup:ParameterGroup": "cache configuration has no charge",
    "aws:elasticache/user:User": "cache configuration has no charge",
    "aws:elasticache/userGroup:UserGroup": "cache configuration has no charge",
    "aws:sqs/queuePolicy:QueuePolicy": "queue configuration has no charge",
    "aws:cloudwatch/eventRule:EventRule": (
        "AWS service events on the default event bus have no charge"
    ),
    "aws:cloudwatch/eventTarget:EventTarget": (
        "AWS service events on the default event bus have no charge"
    ),
    "aws:budgets/budget:Budget": "budgets without actions have no charge",
}
NO_CHARGE_PREFIXES: Mapping[str, str] = {
    "aws:iam/": "IAM has no charge",
    "pulumi:providers:": "a provider configuration, not a cloud resource",
    "random:": "generated into the Pulumi state only",
}


@dataclass(frozen=True)
class LineItem:
    """One priced quantity of one resource for one month."""

    component: str
    component_type: str
    resource: str
    resource_type: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    monthly: Decimal
    assumed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "type": self.resource_type,
            "description": self.description,
            "quantity": float(self.quantity),
            "unit": self.unit,
            "unit_price": float(self.unit_price),
            "monthly": float(self.monthly),
            "assumed": self.assumed,
        }


@dataclass(frozen=True)
class NotPriced:
    """A resource the estimate could not price, and why."""

    component: str
    resource: str
    resource_type: str
    reason: str


@dataclass(frozen=True)
class Estimate:
    """A monthly estimate: line items by component, plus everything left out and why."""

    region: str
    prices: PriceTable
    assumptions: Assumptions
    items: tuple[LineItem, ...]
    no_charge: tuple[tuple[str, int, str], ...]  # (type, count, reason)
    not_priced: tuple[NotPriced, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> Decimal:
        return sum((item.monthly for item in self.items), Decimal(0))

    def by_component(self) -> list[tuple[str, str, Decimal, list[LineItem]]]:
        """``(component, type, subtotal, items)``, most expensive component first."""
        groups: dict[tuple[str, str], list[LineItem]] = {}
        for item in self.items:
            groups.setdefault((item.component, item.component_type), []).append(item)
        rows = [
            (name, kind, sum((i.monthly for i in items), Decimal(0)), items)
            for (name, kind), items in groups.items()
        ]
        return sorted(rows, key=lambda row: (-row[2], row[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "currency": self.prices.currency,
            "hours_per_month": float(self.assumptions.hours_per_month),
            "prices": {
                "table": self.prices.path.name,
                "as_of": self.prices.as_of,
                "source": self.prices.source,
            },
            "components": [
                {
                    "component": name,
                    "type": kind,
                    "monthly": float(subtotal),
                    "items": [item.to_json() for item in items],
                }
                for name, kind, subtotal, items in self.by_component()
            ],
            "total": float(self.total),
            "no_direct_charge": [
                {"type": rtype, "count": count, "reason": reason}
                for rtype, count, reason in self.no_charge
            ],
            "not_priced": [
                {
                    "component": entry.component,
                    "resource": entry.resource,
                    "type": entry.resource_type,
                    "reason": entry.reason,
                }
                for entry in self.not_priced
            ],
            "assumptions": [
                {"key": key, "value": value, "meaning": meaning}
                for key, value, meaning in self.assumptions.rows()
            ],
            "notes": list(self.notes),
        }


# --- reading a render ---------------------------------------------------------------------


def load_inventory(rendered_dir: Path) -> list[dict[str, Any]]:
    """The resources of a rendered folder (``mlops-bp render``)."""
    path = rendered_dir / "inventory.json"
    if not path.is_file():
        raise CostEstimateError(
            f"{rendered_dir} is not a rendered folder (no inventory.json): run "
            "`mlops-bp render --target aws` first, or pass --level"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise CostEstimateError(f"{path} is not an inventory (expected a list of resources)")
    return data


def region_of(inventory: Iterable[Resource]) -> str:
    """The AWS region the render deploys to, read from endpoint service names and subnet AZs."""
    found: set[str] = set()
    for resource in inventory:
        inputs = resource.get("inputs") or {}
        if resource.get("type") == "aws:ec2/vpcEndpoint:VpcEndpoint":
            match = _ENDPOINT_REGION.match(str(inputs.get("serviceName", "")))
            if match:
                found.add(match["region"])
        elif resource.get("type") == "aws:ec2/subnet:Subnet":
            match = _AZ_REGION.match(str(inputs.get("availabilityZone", "")))
            if match:
                found.add(match["region"])
    if not found:
        raise CostEstimateError(
            "the render does not say which region it deploys to (no VPC endpoints or subnets): "
            "pass --region, e.g. --region us-east-1"
        )
    if len(found) > 1:
        raise CostEstimateError(
            f"the render spans regions {', '.join(sorted(found))}: pass --region to price one"
        )
    return found.pop()


def _component_groups(inventory: Sequence[Resource]) -> dict[str, tuple[str, str]]:
    """Each resource URN -> (component name, component type) its cost is reported under.

    A resource belongs to its outermost component. When the whole stack is one wrapping
    component (a blueprint's platform), the components directly inside it are used instead.
    """
    by_urn = {str(r["urn"]): r for r in inventory}

    def chain(resource: Resource) -> list[Resource]:
        components: list[Resource] = []
        current: Resource | None = resource
        while current is not None:
            if not current.get("custom", True):
                components.append(current)
            parent = current.get("parent")
            current = by_urn.get(str(parent)) if parent else None
        return list(reversed(components))

    roots = {
        str(r["urn"])
        for r in inventory
        if not r.get("custom", True) and str(r.get("parent")) not in by_urn
    }
    wrapper = len(roots) == 1
    groups: dict[str, tuple[str, str]] = {}
    for resource in inventory:
        components = chain(resource)
        if not components:
            groups[str(resource["urn"])] = ("(stack)", "")
            continue
        owner = components[1] if wrapper and len(components) > 1 else components[0]
        groups[str(resource["urn"])] = (str(owner["name"]), str(owner["type"]))
    return groups


# --- pricing ------------------------------------------------------------------------------


class _NoCharge(Exception):  # noqa: N818 - a signal, not an error
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Unpriced(Exception):  # noqa: N818 - a signal, not an error
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Charge:
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    assumed: bool = False


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _number_or(value: Any, default: Decimal) -> Decimal:
    number = _number(value)
    return default if number is None else number


def _fmt(value: Decimal) -> str:
    """``80.000`` -> ``80``, ``2.50`` -> ``2.5``: numbers as people write them."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _gigabytes(quantity: Any) -> Decimal | None:
    """A Kubernetes quantity ("80Gi", "20G") or a number of GiB, in (binary) GB."""
    if isinstance(quantity, int | float) and not isinstance(quantity, bool):
        return Decimal(str(quantity))
    match = _QUANTITY.match(str(quantity or "").strip())
    if not match:
        return None
    size = Decimal(match["number"]) * _BYTES[match["unit"]]
    return (size / Decimal(2**30)).quantize(Decimal("0.001"))


class _Pricer:
    """Prices one resource at a time against one table and one set of assumptions."""

    def __init__(
        self, inventory: Sequence[Resource], prices: PriceTable, assumptions: Assumptions
    ) -> None:
        self.prices = prices
        self.assume = assumptions
        self.hours = assumptions.hours_per_month
        self.node_classes = {
            str((r["inputs"].get("metadata") or {}).get("name")): r
            for r in inventory
            if r.get("type") == "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
        }
        self.launch_templates = {
            f"{r['name']}-id": r
            for r in inventory
            if r.get("type") == "aws:ec2/launchTemplate:LaunchTemplate"
        }
        self.handlers: dict[str, Callable[[Resource], list[_Charge]]] = {
            "aws:eks/cluster:Cluster": self.eks_cluster,
            "aws:eks/nodeGroup:NodeGroup": self.node_group,
            "kubernetes:karpenter.sh/v1:NodePool": self.node_pool,
            "aws:ec2/natGateway:NatGateway": self.nat_gateway,
            "aws:ec2/eip:Eip": self.elastic_ip,
            "aws:ec2/vpcEndpoint:VpcEndpoint": self.vpc_endpoint,
            "aws:rds/instance:Instance": self.rds_instance,
            "aws:elasticache/replicationGroup:ReplicationGroup": self.replication_group,
            "aws:elasticache/cluster:Cluster": self.cache_cluster,
            "aws:dynamodb/table:Table": self.dynamodb_table,
            "aws:s3/bucket:Bucket": self.s3_bucket,
            "aws:kms/key:Key": self.kms_key,
            "aws:ecr/repository:Repository": self.ecr_repository,
            "aws:cloudwatch/logGroup:LogGroup": self.log_group,
            "aws:sqs/queue:Queue": self.sqs_queue,
            "kubernetes:core/v1:Service": self.k8s_service,
            "kubernetes:apps/v1:StatefulSet": self.stateful_set,
            "kubernetes:core/v1:PersistentVolumeClaim": self.volume_claim,
        }

    # Look-ups ----------------------------------------------------------------------------

    def _price(self, section: str, key: str, item: str | None = None) -> Decimal:
        value = self.prices.price(section, key, item)
        if value is None:
            what = f"{section}.{key}" + (f" for {item}" if item else "")
            raise _Unpriced(f"no price for {what} in {self.prices.path.name}")
        return value

    def _instance_hour(self, instance_type: str) -> Decimal:
        value = self.prices.price("ec2", "instance_hour", instance_type)
        if value is None:
            raise _Unpriced(
                f"no on-demand price for instance type {instance_type} in "
                f"{self.prices.path.name}; add it to the table"
            )
        return value

    def _gp3(self, description: str, gigabytes: Decimal, *, assumed: bool = False) -> _Charge:
        return _Charge(
            description, gigabytes, "GB-month", self._price("ebs", "gp3_gb_month"), assumed
        )

    # Compute -----------------------------------------------------------------------------

    def eks_cluster(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        support = str((inputs.get("upgradePolicy") or {}).get("supportType", "EXTENDED"))
        description = f"EKS control plane {inputs.get('name', resource['name'])}"
        if support != "STANDARD":
            description += " (extended support bills more once the version leaves standard)"
        return [
            _Charge(description, self.hours, "cluster-hour", self._price("eks", "cluster_hour"))
        ]

    def node_group(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        scaling = inputs.get("scalingConfig") or {}
        nodes = _number(scaling.get("desiredSize"))
        if nodes is None:
            nodes = _number_or(scaling.get("minSize"), Decimal(0))
        types = inputs.get("instanceTypes") or ["t3.medium"]
        instance_type = str(types[0])
        if str(inputs.get("capacityType", "ON_DEMAND")) != "ON_DEMAND":
            raise _Unpriced("Spot node groups have variable prices; only on-demand is priced")
        charges = [
            _Charge(
                f"{_fmt(nodes)} x {instance_type} nodes (desired size)",
                nodes * self.hours,
                "instance-hour",
                self._instance_hour(instance_type),
            )
        ]
        disk = _number(inputs.get("diskSize"))
        assumed = False
        if disk is None:
            template = self.launch_templates.get(
                str((inputs.get("launchTemplate") or {}).get("id"))
            )
            disk = self._template_disk(template) if template else None
        if disk is None:
            disk, assumed = self.assume.node_disk_gb_when_unset, True
        charges.append(
            self._gp3(
                f"{_fmt(nodes)} x {_fmt(disk)} GB gp3 root volumes", nodes * disk, assumed=assumed
            )
        )
        return charges

    @staticmethod
    def _template_disk(template: Resource) -> Decimal | None:
        for mapping in template["inputs"].get("blockDeviceMappings") or []:
            size = _number((mapping.get("ebs") or {}).get("volumeSize"))
            if size is not None:
                return size
        return None

    def node_pool(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        name = str((inputs.get("metadata") or {}).get("name", resource["name"]))
        template = (inputs.get("spec") or {}).get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        hardware = str(labels.get("mlops-blueprints.io/hardware-class", "cpu"))
        assumption = self.assume.pool(name, hardware)
        if assumption is None:
            raise _Unpriced(
                f"no node assumption for hardware class {hardware!r}: pass "
                f"--assume pool.{name}.instance_type=<type> and --assume pool.{name}.nodes=<n>"
            )
        spec = template.get("spec") or {}
        self._check_requirements(name, assumption.instance_type, spec.get("requirements") or [])
        nodes = assumption.nodes
        limit = _number(((inputs.get("spec") or {}).get("limits") or {}).get("nodes"))
        if limit is not None and nodes > limit:
            nodes = limit
        charges = [
            _Charge(
                f"pool {name}: {_fmt(nodes)} x {assumption.instance_type} on average",
                nodes * self.hours,
                "instance-hour",
                self._instance_hour(assumption.instance_type),
                assumed=True,
            )
        ]
        node_class = self.node_classes.get(str((spec.get("nodeClassRef") or {}).get("name")))
        disk = self._node_class_disk(node_class) if node_class else None
        if disk is None:
            disk = self.assume.node_disk_gb_when_unset
        # The volumes follow the assumed node count, so they are assumed too.
        charges.append(
            self._gp3(
                f"pool {name}: {_fmt(nodes)} x {_fmt(disk)} GB gp3 root volumes",
                nodes * disk,
                assumed=True,
            )
        )
        return charges

    @staticmethod
    def _node_class_disk(node_class: Resource) -> Decimal | None:
        spec = node_class["inputs"].get("spec") or {}
        for mapping in spec.get("blockDeviceMappings") or []:
            size = _gigabytes((mapping.get("ebs") or {}).get("volumeSize"))
            if size is not None:
                return size
        return None

    @staticmethod
    def _check_requirements(pool: str, instance_type: str, requirements: list[Any]) -> None:
        family = instance_type.split(".", 1)[0]
        category = re.match(r"^[a-z]+", family)
        generation = re.search(r"\d+", family)
        facts = {
            "karpenter.k8s.aws/instance-family": family,
            "karpenter.k8s.aws/instance-category": category[0] if category else "",
            "node.kubernetes.io/instance-type": instance_type,
        }
        for requirement in requirements:
            key = str(requirement.get("key"))
            operator = str(requirement.get("operator"))
            values = [str(v) for v in requirement.get("values") or []]
            if key in facts and operator == "In" and facts[key] not in values:
                raise _Unpriced(
                    f"the assumed instance type {instance_type} is not allowed by the pool "
                    f"({key} In {values}): pass --assume pool.{pool}.instance_type=<type>"
                )
            too_old = (
                key == "karpenter.k8s.aws/instance-generation"
                and operator == "Gt"
                and generation is not None
                and bool(values)
                and int(generation[0]) <= int(values[0])
            )
            if too_old:
                raise _Unpriced(
                    f"the assumed instance type {instance_type} is not allowed by the pool "
                    f"(generation > {values[0]}): pass --assume "
                    f"pool.{pool}.instance_type=<type>"
                )

    # Network -----------------------------------------------------------------------------

    def nat_gateway(self, resource: Resource) -> list[_Charge]:
        if str(resource["inputs"].get("connectivityType", "public")) == "private":
            description = "private NAT gateway"
        else:
            description = "NAT gateway"
        return [
            _Charge(
                description, self.hours, "gateway-hour", self._price("vpc", "nat_gateway_hour")
            ),
            _Charge(
                "NAT data processed",
                self.assume.nat_gb_per_gateway,
                "GB",
                self._price("vpc", "nat_gateway_gb"),
                assumed=True,
            ),
        ]

    def elastic_ip(self, resource: Resource) -> list[_Charge]:
        return [
            _Charge(
                "public IPv4 address",
                self.hours,
                "address-hour",
                self._price("vpc", "public_ipv4_hour"),
            )
        ]

    def vpc_endpoint(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        kind = str(inputs.get("vpcEndpointType", "Gateway"))
        service = _ENDPOINT_REGION.sub("", str(inputs.get("serviceName", "")))
        if kind == "Gateway":
            raise _NoCharge("gateway endpoints (S3, DynamoDB) have no charge")
        zones = Decimal(len(inputs.get("subnetIds") or [])) or Decimal(1)
        return [
            _Charge(
                f"interface endpoint {service} in {_fmt(zones)} AZs",
                zones * self.hours,
                "AZ-hour",
                self._price("vpc", "interface_endpoint_az_hour"),
            ),
            _Charge(
                f"interface endpoint {service} data processed",
                self.assume.interface_endpoint_gb,
                "GB",
                self._price("vpc", "interface_endpoint_gb"),
                assumed=True,
            ),
        ]

    def k8s_service(self, resource: Resource) -> list[_Charge]:
        spec = resource["inputs"].get("spec") or {}
        if spec.get("type") != "LoadBalancer":
            raise _NoCharge(IN_CLUSTER_REASON)
        return [
            _Charge(
                "Network Load Balancer", self.hours, "balancer-hour", self._price("elb", "nlb_hour")
            ),
            _Charge(
                "Network Load Balancer capacity",
                self.assume.nlb_lcus_per_balancer * self.hours,
                "LCU-hour",
                self._price("elb", "nlb_lcu_hour"),
                assumed=True,
            ),
        ]

    # Data --------------------------------------------------------------------------------

    def rds_instance(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        instance_class = str(inputs.get("instanceClass"))
        factor = self._price("rds", "multi_az_factor") if inputs.get("multiAz") else Decimal(1)
        deployment = "Multi-AZ" if inputs.get("multiAz") else "Single-AZ"
        storage_type = str(inputs.get("storageType") or "gp2")
        storage = _number_or(inputs.get("allocatedStorage"), Decimal(20))
        charges = [
            _Charge(
                f"RDS {inputs.get('engine', 'postgres')} {instance_class} ({deployment})",
                self.hours * factor,
                "instance-hour",
                self._price("rds", "instance_hour", instance_class),
            ),
            _Charge(
                f"RDS {storage_type} storage ({deployment})",
                storage * factor,
                "GB-month",
                self._price("rds", "storage_gb_month", storage_type),
            ),
        ]
        if inputs.get("enabledCloudwatchLogsExports"):
            charges.append(
                _Charge(
                    "RDS log export ingestion",
                    self.assume.rds_log_export_gb_per_instance,
                    "GB",
                    self._price("cloudwatch_logs", "ingest_gb"),
                    assumed=True,
                )
            )
        return charges

    def replication_group(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        node_type = str(inputs.get("nodeType"))
        groups = _number(inputs.get("numNodeGroups"))
        if groups is not None:
            replicas = _number_or(inputs.get("replicasPerNodeGroup"), Decimal(0))
            nodes = groups * (replicas + 1)
        else:
            nodes = _number_or(inputs.get("numCacheClusters"), Decimal(1))
        return [self._cache_nodes(node_type, nodes)]

    def cache_cluster(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        nodes = _number_or(inputs.get("numCacheNodes"), Decimal(1))
        return [self._cache_nodes(str(inputs.get("nodeType")), nodes)]

    def _cache_nodes(self, node_type: str, nodes: Decimal) -> _Charge:
        return _Charge(
            f"{_fmt(nodes)} x {node_type} cache nodes",
            nodes * self.hours,
            "node-hour",
            self._price("elasticache", "node_hour", node_type),
        )

    def dynamodb_table(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        storage = self.assume.dynamodb_storage_gb_per_table
        if str(inputs.get("billingMode", "PROVISIONED")) == "PAY_PER_REQUEST":
            charges = [
                _Charge(
                    "DynamoDB on-demand writes",
                    self.assume.dynamodb_write_millions_per_table,
                    "million WRU",
                    self._price("dynamodb", "write_request_million"),
                    assumed=True,
                ),
                _Charge(
                    "DynamoDB on-demand reads",
                    self.assume.dynamodb_read_millions_per_table,
                    "million RRU",
                    self._price("dynamodb", "read_request_million"),
                    assumed=True,
                ),
            ]
        else:
            writes = _number_or(inputs.get("writeCapacity"), Decimal(0))
            reads = _number_or(inputs.get("readCapacity"), Decimal(0))
            charges = [
                _Charge(
                    f"DynamoDB {_fmt(writes)} provisioned WCU",
                    writes * self.hours,
                    "WCU-hour",
                    self._price("dynamodb", "wcu_hour"),
                ),
                _Charge(
                    f"DynamoDB {_fmt(reads)} provisioned RCU",
                    reads * self.hours,
                    "RCU-hour",
                    self._price("dynamodb", "rcu_hour"),
                ),
            ]
        charges.append(
            _Charge(
                "DynamoDB storage",
                storage,
                "GB-month",
                self._price("dynamodb", "storage_gb_month"),
                assumed=True,
            )
        )
        if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
            charges.append(
                _Charge(
                    "DynamoDB point-in-time recovery",
                    storage,
                    "GB-month",
                    self._price("dynamodb", "pitr_gb_month"),
                    assumed=True,
                )
            )
        return charges

    def s3_bucket(self, resource: Resource) -> list[_Charge]:
        return [
            _Charge(
                "S3 Standard storage",
                self.assume.s3_gb_per_bucket,
                "GB-month",
                self._price("s3", "standard_gb_month"),
                assumed=True,
            ),
            _Charge(
                "S3 PUT/LIST requests",
                self.assume.s3_put_thousands_per_bucket,
                "thousand requests",
                self._price("s3", "put_thousand"),
                assumed=True,
            ),
            _Charge(
                "S3 GET requests",
                self.assume.s3_get_thousands_per_bucket,
                "thousand requests",
                self._price("s3", "get_thousand"),
                assumed=True,
            ),
        ]

    def kms_key(self, resource: Resource) -> list[_Charge]:
        return [
            _Charge(
                "customer-managed KMS key", Decimal(1), "key-month", self._price("kms", "key_month")
            ),
            _Charge(
                "KMS API requests",
                self.assume.kms_requests_ten_thousands_per_key,
                "10k requests",
                self._price("kms", "requests_ten_thousand"),
                assumed=True,
            ),
        ]

    def ecr_repository(self, resource: Resource) -> list[_Charge]:
        return [
            _Charge(
                "ECR image storage",
                self.assume.ecr_gb_per_repository,
                "GB-month",
                self._price("ecr", "storage_gb_month"),
                assumed=True,
            )
        ]

    def log_group(self, resource: Resource) -> list[_Charge]:
        inputs = resource["inputs"]
        ingest = self.assume.logs_ingest_gb_per_group
        retention = (
            _number(inputs.get("retentionInDays")) or self.assume.logs_retention_days_when_unset
        )
        stored = (ingest * retention / Decimal(30) * self.assume.logs_compression_ratio).quantize(
            Decimal("0.001")
        )
        return [
            _Charge(
                f"log ingestion {inputs.get('name', resource['name'])}",
                ingest,
                "GB",
                self._price("cloudwatch_logs", "ingest_gb"),
                assumed=True,
            ),
            _Charge(
                f"log storage ({_fmt(retention)} days retained)",
                stored,
                "GB-month",
                self._price("cloudwatch_logs", "storage_gb_month"),
                assumed=True,
            ),
        ]

    def sqs_queue(self, resource: Resource) -> list[_Charge]:
        return [
            _Charge(
                "SQS requests",
                self.assume.sqs_requests_millions_per_queue,
                "million requests",
                self._price("sqs", "request_million"),
                assumed=True,
            )
        ]

    # Kubernetes volumes ----------------------------------------------------------------------

    def stateful_set(self, resource: Resource) -> list[_Charge]:
        spec = resource["inputs"].get("spec") or {}
        templates = spec.get("volumeClaimTemplates") or []
        if not templates:
            raise _NoCharge(IN_CLUSTER_REASON)
        replicas = _number_or(spec.get("replicas"), Decimal(1))
        charges = []
        for template in templates:
            size = self._claim_size(template.get("spec") or {})
            charges.append(
                self._gp3(
                    f"{_fmt(replicas)} x {_fmt(size)} GB volume (assumed gp3)", replicas * size
                )
            )
        return charges

    def volume_claim(self, resource: Resource) -> list[_Charge]:
        size = self._claim_size(resource["inputs"].get("spec") or {})
        return [self._gp3(f"{_fmt(size)} GB volume (assumed gp3)", size)]

    @staticmethod
    def _claim_size(spec: Mapping[str, Any]) -> Decimal:
        size = _gigabytes(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        if size is None:
            raise _Unpriced("the volume claim requests no storage size")
        return size

    # Dispatch ----------------------------------------------------------------------------

    def charges(self, resource: Resource) -> list[_Charge]:
        rtype = str(resource["type"])
        handler = self.handlers.get(rtype)
        if handler is not None:
            return handler(resource)
        if rtype in NO_CHARGE:
            raise _NoCharge(NO_CHARGE[rtype])
        for prefix, reason in NO_CHARGE_PREFIXES.items():
            if rtype.startswith(prefix):
                raise _NoCharge(reason)
        if rtype.startswith(("kubernetes:helm.sh/", "kubernetes:kustomize/", "kubernetes:yaml/")):
            raise _NoCharge(HELM_REASON)
        if rtype.startswith("kubernetes:"):
            raise _NoCharge(IN_CLUSTER_REASON)
        raise _Unpriced("no price mapping for this resource type")


def estimate(
    inventory: Sequence[Resource],
    *,
    region: str | None = None,
    assumptions: Assumptions | None = None,
    prices: PriceTable | None = None,
) -> Estimate:
    """Price a rendered inventory for one month in ``region`` (default: the render's)."""
    if not any(str(r.get("type", "")).startswith("aws:") for r in inventory):
        raise CostEstimateError(
            "the render holds no aws resources: the estimate prices the aws target "
            "(render with --target aws)"
        )
    assume = assumptions or Assumptions()
    chosen = region or region_of(inventory)
    table = prices or load_price_table(chosen)
    if table.region != chosen:
        raise CostEstimateError(f"the price table is for {table.region}, not {chosen}")
    groups = _component_groups(inventory)
    pricer = _Pricer(inventory, table, assume)
    items: list[LineItem] = []
    free: Counter[tuple[str, str]] = Counter()
    unpriced: list[NotPriced] = []
    for resource in sorted(inventory, key=lambda r: str(r["urn"])):
        if not resource.get("custom", True):
            continue  # components group resources; they are not billed themselves
        component, component_type = groups[str(resource["urn"])]
        try:
            charges = pricer.charges(resource)
        except _NoCharge as signal:
            free[(str(resource["type"]), signal.reason)] += 1
            continue
        except _Unpriced as signal:
            unpriced.append(
                NotPriced(component, str(resource["name"]), str(resource["type"]), signal.reason)
            )
            continue
        items.extend(
            LineItem(
                component=component,
                component_type=component_type,
                resource=str(resource["name"]),
                resource_type=str(resource["type"]),
                description=charge.description,
                quantity=charge.quantity,
                unit=charge.unit,
                unit_price=charge.unit_price,
                monthly=(charge.quantity * charge.unit_price).quantize(CENT, ROUND_HALF_UP),
                assumed=charge.assumed,
            )
            for charge in charges
        )
    notes = (
        f"Prices: {table.path.name}, public on-demand list prices as of {table.as_of} "
        f"({table.source})",
        "Not included: data transfer between AZs and to the internet, support plans, taxes, "
        "free tiers, Savings Plans, Reserved Instances and Spot discounts.",
        "Karpenter pools, storage volumes and request counts are assumptions (marked *); "
        "override them with --assume key=value.",
    )
    return Estimate(
        region=chosen,
        prices=table,
        assumptions=assume,
        items=tuple(items),
        no_charge=tuple((rtype, count, reason) for (rtype, reason), count in sorted(free.items())),
        not_priced=tuple(unpriced),
        notes=notes,
    )
