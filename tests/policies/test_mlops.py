"""MLOps rules: serving, accelerators, data classification and PII discovery, the online
feature store, the pipeline root and cost allocation, on hand-made resources and renders."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlops_blueprints.blueprints._allocation import (
    ENVIRONMENT_LABEL as BLUEPRINT_ENVIRONMENT_LABEL,
)
from mlops_blueprints.blueprints._allocation import allocation_labels, label_props
from mlops_blueprints.components.monitoring import MONITORING_AGENTS_NAMESPACE
from mlops_blueprints.components.node_pools import (
    HARDWARE_CLASS_LABEL as POOL_HARDWARE_CLASS_LABEL,
)
from mlops_blueprints.components.node_pools import extended_resource, tolerations
from mlops_blueprints.components.serving._plan import parse_model_uri
from mlops_blueprints.policies import AnalyzedResource
from mlops_blueprints.policies._rule import Rule
from mlops_blueprints.policies.mlops import (
    ACCELERATORS,
    AGENT_DAEMONSET_NAMESPACES,
    CLASSIFICATION_TAG,
    ENVIRONMENT_LABEL,
    HARDWARE_CLASS_LABEL,
    METADATA_LABELS,
    MODEL_URI_ANNOTATION,
    POD_TEMPLATE_LABELS,
    RULES,
)
from mlops_blueprints.policies.mlops._allocation import ALLOCATION_LABELS
from mlops_blueprints.policies.mlops._data import (
    DATA_LAKE_CLASSIFIED,
    ONLINE_STORE_CUSTOMER_KEY,
    ONLINE_STORE_ENCRYPTED,
    PII_SCANNED,
    PIPELINE_ROOT_ENCRYPTED,
)
from mlops_blueprints.policies.mlops._serving import (
    ACCELERATOR_PLACEMENT,
    INFERENCE_REGISTERED,
    INFERENCE_REPLICAS,
    INFERENCE_RESOURCES,
)

from mlops_blueprints.errors import BlueprintConfigError
from tests.conftest import RenderFn
from tests.policies._helpers import (
    SERVED_MODELS_CONFIG,
    analyzed,
    assert_complies,
    assert_violates,
    resource,
    violations,
)

pytestmark = pytest.mark.policy

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
CRONJOB = "kubernetes:batch/v1:CronJob"
NAMESPACE = "kubernetes:core/v1:Namespace"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
MACIE_JOB = "aws:macie2/classificationJob:ClassificationJob"
TABLE = "aws:dynamodb/table:Table"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
CONFIGMAP_PATCH = "kubernetes:core/v1:ConfigMapPatch"

GPU_TOLERATION = {
    "key": "nvidia.com/gpu",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
NEURON_TOLERATION = {
    "key": "aws.amazon.com/neuron",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
METADATA_LABEL_VALUES = {
    "mlops-blueprints.io/team": "platform",
    "mlops-blueprints.io/level": "4",
    "mlops-blueprints.io/model": "shared",
    "mlops-blueprints.io/environment": "dev",
}
POD_LABEL_VALUES = {"mlops-blueprints.io/team": "platform", "mlops-blueprints.io/model": "shared"}
MODEL_RESOURCES = {"requests": {"cpu": "1", "memory": "2048Mi"}, "limits": {"memory": "4096Mi"}}


def test_rules_are_exported_with_their_levels() -> None:
    assert {rule.name: rule.levels for rule in RULES} == {
        "inference-service-sets-model-resources": (1, 2, 3, 4),
        "inference-service-bounds-replicas": (1, 2, 3, 4),
        "inference-service-serves-registered-model-version": (1, 2, 3, 4),
        "accelerator-workload-requests-and-tolerates-device": (1, 2, 3, 4),
        "data-lake-bucket-declares-data-classification": (1, 2, 3, 4),
        "pii-bucket-scanned-for-sensitive-data": (4,),
        "online-feature-store-encrypted": (1, 2, 3, 4),
        "online-feature-store-uses-customer-managed-key": (4,),
        "pipeline-root-on-encrypted-bucket": (1, 2, 3, 4),
        "workload-carries-cost-allocation-labels": (1, 2, 3, 4),
    }


# --- constants agree with the components -------------------------------------------------------


def test_accelerator_table_matches_the_node_pool_hardware() -> None:
    assert HARDWARE_CLASS_LABEL == POOL_HARDWARE_CLASS_LABEL
    assert ACCELERATORS["nvidia-gpu"].resources == (extended_resource("nvidia-gpu"),)
    assert ACCELERATORS["neuron"].resources == (
        extended_resource("neuron", "device"),
        extended_resource("neuron", "core"),
    )
    for hardware_class, accelerator in ACCELERATORS.items():
        (toleration,) = tolerations(hardware_class)  # type: ignore[arg-type]
        assert {k: toleration[k] for k in ("key", "value", "effect")} == dict(accelerator.taint)


def test_node_agent_namespaces_include_the_monitoring_agents_namespace() -> None:
    assert MONITORING_AGENTS_NAMESPACE in AGENT_DAEMONSET_NAMESPACES


def test_allocation_keys_match_the_platform_transformation() -> None:
    labels = allocation_labels(team="t", level=4, environment="dev", model="m")
    assert sorted(labels) == sorted(METADATA_LABELS)
    assert ENVIRONMENT_LABEL == BLUEPRINT_ENVIRONMENT_LABEL
    labelled = label_props(
        DEPLOYMENT,
        {"metadata": {}, "spec": {"template": {"metadata": {}, "spec": {}}}},
        labels,
    )
    assert sorted(labelled["metadata"]["labels"]) == sorted(METADATA_LABELS)
    assert sorted(labelled["spec"]["template"]["metadata"]["labels"]) == sorted(POD_TEMPLATE_LABELS)


# --- InferenceService ------------------------------------------------------------------------


def isvc(
    *,
    predictor: dict[str, Any] | None = None,
    model_uri: str | None = "models:/churn@champion",
    name: str = "churn",
) -> AnalyzedResource:
    annotations = {MODEL_URI_ANNOTATION: model_uri} if model_uri is not None else {}
    spec_predictor = {
        "minReplicas": 1,
        "maxReplicas": 3,
        "labels": dict(POD_LABEL_VALUES),
        "nodeSelector": {HARDWARE_CLASS_LABEL: "cpu"},
        "model": {"modelFormat": {"name": "sklearn"}, "resources": MODEL_RESOURCES},
    }
    if predictor is not None:
        spec_predictor = predictor
    return resource(
        ISVC,
        name,
        {
            "metadata": {
                "name": name,
                "namespace": "mlops",
                "labels": dict(METADATA_LABEL_VALUES),
                "annotations": annotations,
            },
            "spec": {"predictor": spec_predictor},
        },
    )


def _predictor(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "minReplicas": 1,
        "maxReplicas": 3,
        "labels": dict(POD_LABEL_VALUES),
        "model": {"modelFormat": {"name": "sklearn"}, "resources": MODEL_RESOURCES},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    "predictor",
    [
        _predictor(),
        _predictor(model=None, sklearn={"resources": MODEL_RESOURCES}),
        _predictor(
            model=None, containers=[{"name": "kserve-container", "resources": MODEL_RESOURCES}]
        ),
    ],
)
def test_model_container_with_requests_and_memory_limit_complies(predictor: dict[str, Any]) -> None:
    assert_complies(INFERENCE_RESOURCES, isvc(predictor=predictor))


@pytest.mark.parametrize(
    ("resources", "fragment"),
    [
        (None, "requests.cpu, requests.memory, limits.memory"),
        ({"requests": {"cpu": "1", "memory": "1Gi"}}, "lacks limits.memory"),
        ({"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}}, "lacks requests.cpu"),
        ({"requests": {"cpu": "1"}, "limits": {"memory": "2Gi", "cpu": "2"}}, "requests.memory"),
    ],
)
def test_model_container_without_resources_violates(
    resources: dict[str, Any] | None, fragment: str
) -> None:
    model: dict[str, Any] = {"modelFormat": {"name": "sklearn"}}
    if resources is not None:
        model["resources"] = resources
    found = assert_violates(INFERENCE_RESOURCES, isvc(predictor=_predictor(model=model)))
    assert fragment in found.message
    assert "spec.predictor.model.resources" in found.message


def test_predictor_without_a_model_container_violates() -> None:
    found = assert_violates(INFERENCE_RESOURCES, isvc(predictor=_predictor(model=None)))
    assert "no model container" in found.message


@pytest.mark.parametrize(("low", "high"), [(0, 1), (1, 1), (2, 5)])
def test_bounded_replicas_comply(low: int, high: int) -> None:
    assert_complies(
        INFERENCE_REPLICAS, isvc(predictor=_predictor(minReplicas=low, maxReplicas=high))
    )


@pytest.mark.parametrize(
    ("low", "high", "fragment"),
    [
        (None, 3, "does not set minReplicas"),
        (1, None, "does not set maxReplicas"),
        (None, None, "minReplicas and maxReplicas"),
        (4, 2, "minReplicas 4 exceeds maxReplicas 2"),
        (0, 0, "maxReplicas >= 1"),
    ],
)
def test_unbounded_or_inverted_replicas_violate(
    low: int | None, high: int | None, fragment: str
) -> None:
    subject = isvc(predictor=_predictor(minReplicas=low, maxReplicas=high))
    assert fragment in assert_violates(INFERENCE_REPLICAS, subject).message


@pytest.mark.parametrize("uri", ["models:/churn@champion", "models:/churn/3", "models:/a.b-c_d@x1"])
def test_registered_model_versions_comply(uri: str) -> None:
    assert_complies(INFERENCE_REGISTERED, isvc(model_uri=uri))


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        (None, "has no mlops-blueprints.io/model-uri"),
        ("models:/churn", "is not a registered version"),
        ("models:/churn/0", "is not a registered version"),
        ("s3://bucket/models/churn", "is not a registered version"),
        ("models:/churn@1st", "is not a registered version"),
    ],
)
def test_unregistered_models_violate(uri: str | None, fragment: str) -> None:
    assert fragment in assert_violates(INFERENCE_REGISTERED, isvc(model_uri=uri)).message


_URI_PIECES = st.sampled_from(
    ["churn", "a.b", "x_y-z", "1st", "", "@", "/", "@champion", "/3", "/0"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_URI_PIECES, min_size=1, max_size=3).map(lambda p: "models:/" + "".join(p)))
def test_rule_accepts_exactly_what_the_endpoint_accepts(uri: str) -> None:
    try:
        parse_model_uri(uri)
        accepted = True
    except BlueprintConfigError:
        accepted = False
    assert (violations(INFERENCE_REGISTERED, isvc(model_uri=uri)) == []) is accepted


# --- accelerators ----------------------------------------------------------------------------


def workload(
    type_: str = DEPLOYMENT,
    *,
    namespace: str = "mlops",
    node_selector: dict[str, str] | None = None,
    pod_tolerations: list[dict[str, str]] | None = None,
    resources: dict[str, Any] | None = None,
    affinity: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    metadata_labels: dict[str, str] | None = None,
    name: str = "trainer",
) -> AnalyzedResource:
    pod_spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": "x:1", "resources": resources or {}}]
    }
    if node_selector is not None:
        pod_spec["nodeSelector"] = node_selector
    if pod_tolerations is not None:
        pod_spec["tolerations"] = pod_tolerations
    if affinity is not None:
        pod_spec["affinity"] = affinity
    template = {
        "metadata": {"labels": dict(POD_LABEL_VALUES) if labels is None else labels},
        "spec": pod_spec,
    }
    spec: dict[str, Any] = (
        {"jobTemplate": {"spec": {"template": template}}}
        if type_ == CRONJOB
        else {"template": template}
    )
    return resource(
        type_,
        name,
        {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(METADATA_LABEL_VALUES)
                if metadata_labels is None
                else metadata_labels,
            },
            "spec": spec,
        },
    )


def _gpu(amount: Any = 1) -> dict[str, Any]:
    return {"requests": {"nvidia.com/gpu": amount}, "limits": {"nvidia.com/gpu": amount}}


def _affinity(*values: str) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": HARDWARE_CLASS_LABEL, "operator": "In", "values": list(values)}
                        ]
                    }
                ]
            }
        }
    }


@pytest.mark.parametrize(
    "subject",
    [
        workload(
            node_selector={HARDWARE_CLASS_LABEL: "nvidia-gpu"},
            pod_tolerations=[GPU_TOLERATION],
            resources=_gpu(),
        ),
        workload(
            node_selector={HARDWARE_CLASS_LABEL: "nvidia-gpu"},
            pod_tolerations=[{"operator": "Exists"}],
            resources={"limits": {"nvidia.com/gpu": "2"}},
        ),
        workload(
            affinity=_affinity("neuron"),
            pod_tolerations=[NEURON_TOLERATION],
            resources={"requests": {"aws.amazon.com/neuroncore": 2}},
        ),
        # The neuron-monitor shape: a node agent on the pool, no device requested.
        workload(
            DAEMONSET,
            namespace="monitoring-agents",
            node_selector={HARDWARE_CLASS_LABEL: "neuron"},
            pod_tolerations=[NEURON_TOLERATION],
        ),
        workload(
            DAEMONSET,
            namespace="kube-system",
            node_selector={HARDWARE_CLASS_LABEL: "nvidia-gpu"},
            pod_tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}],
        ),
        workload(node_selector={HARDWARE_CLASS_LABEL: "cpu"}),
        # Not confined to accelerators: may land on cpu nodes.
        workload(affinity=_affinity("cpu", "nvidia-gpu")),
        isvc(
            predictor=_predictor(
                nodeSelector={HARDWARE_CLASS_LABEL: "neuron"},
                tolerations=[NEURON_TOLERATION],
                model={
                    "resources": {
                        **MODEL_RESOURCES,
                        "limits": {"memory": "4Gi", "aws.amazon.com/neuron": 1},
                    }
                },
            )
        ),
    ],
    ids=lambda r: r.name,
)
def test_placed_and_requesting_workloads_comply(subject: AnalyzedResource) -> None:
    assert_complies(ACCELERATOR_PLACEMENT, subject)


@pytest.mark.parametrize(
    ("subject", "fragment"),
    [
        (
            workload(
                node_selector={HARDWARE_CLASS_LABEL: "nvidia-gpu"}, pod_tolerations=[GPU_TOLERATION]
            ),
            "placed on nvidia-gpu nodes but no container requests nvidia.com/gpu",
        ),
        (
            workload(
                node_selector={HARDWARE_CLASS_LABEL: "nvidia-gpu"},
                pod_tolerations=[GPU_TOLERATION],
                resources=_gpu(0),
            ),
            "no container requests nvidia.com/gpu",
        ),
        # The exemption needs both the kind and the namespace.
        (
            workload(
                DAEMONSET,
                namespace="mlops",
                node_selector={HARDWARE_CLASS_LABEL: "neuron"},
                pod_tolerations=[NEURON_TOLERATION],
            ),
            "no container requests aws.amazon.com/neuron or aws.amazon.com/neuroncore",
        ),
        (
            workload(
                namespace="monitoring-agents",
                node_selector={HARDWARE_CLASS_LABEL: "neuron"},
                pod_tolerations=[NEURON_TOLERATION],
            ),
            "no container requests aws.amazon.com/neuron",
        ),
        (
            workload(node_selector={HARDWARE_CLASS_LABEL: "nvidia-gpu"}, resources=_gpu()),
            "requests main: nvidia.com/gpu but does not tolerate the pool taint "
            "nvidia.com/gpu=true:NoSchedule",
        ),
        (
            workload(resources={"limits": {"aws.amazon.com/neuron": 1}}),
            "requests main: aws.amazon.com/neuron but does not tolerate",
        ),
        (
            workload(
                node_selector={HARDWARE_CLASS_LABEL: "nvidia-gpu"},
                pod_tolerations=[{**GPU_TOLERATION, "value": "false"}],
                resources=_gpu(),
            ),
            "does not tolerate",
        ),
        # Agents are exempt from the request, not from the toleration.
        (
            workload(
                DAEMONSET,
                namespace="monitoring-agents",
                node_selector={HARDWARE_CLASS_LABEL: "neuron"},
            ),
            "is placed on neuron nodes but does not tolerate",
        ),
        (
            workload(
                node_selector={HARDWARE_CLASS_LABEL: "cpu"},
                pod_tolerations=[GPU_TOLERATION],
                resources=_gpu(),
            ),
            "its nodeSelector places it on cpu nodes",
        ),
        (
            workload(affinity=_affinity("neuron"), pod_tolerations=[NEURON_TOLERATION]),
            "placed on neuron nodes but no container requests",
        ),
        (
            workload(
                CRONJOB,
                node_selector={HARDWARE_CLASS_LABEL: "nvidia-gpu"},
                pod_tolerations=[GPU_TOLERATION],
            ),
            "spec.jobTemplate.spec.template: placed on nvidia-gpu nodes",
        ),
        (
            isvc(
                predictor=_predictor(
                    nodeSelector={HARDWARE_CLASS_LABEL: "nvidia-gpu"},
                    tolerations=[GPU_TOLERATION],
                )
            ),
            "spec.predictor: placed on nvidia-gpu nodes but no container requests",
        ),
    ],
)
def test_misplaced_accelerator_workloads_violate(subject: AnalyzedResource, fragment: str) -> None:
    assert fragment in assert_violates(ACCELERATOR_PLACEMENT, subject).message


# --- data-lake classification ----------------------------------------------------------------

_LAKE_URN = (
    "urn:pulumi:test::mlops-platform::mlops:blueprints:Platform$mlops:storage:DataLake"
    "$mlops:storage:S3Bucket$aws:s3/bucket:Bucket::data-lake-raw-bucket"
)


def lake_bucket(tags: dict[str, str], *, urn: str = _LAKE_URN) -> AnalyzedResource:
    return AnalyzedResource(
        type=BUCKET,
        name="data-lake-raw-bucket",
        urn=urn,
        props={"bucket": "lake-raw", "tags": tags},
    )


@pytest.mark.parametrize("classification", ["public", "internal", "confidential", "pii"])
def test_classified_data_lake_buckets_comply(classification: str) -> None:
    assert_complies(DATA_LAKE_CLASSIFIED, lake_bucket({CLASSIFICATION_TAG: classification}))


def test_buckets_outside_the_data_lake_need_no_classification() -> None:
    logs = resource(BUCKET, "access-logs-bucket", {"bucket": "logs", "tags": {"purpose": "logs"}})
    assert_complies(DATA_LAKE_CLASSIFIED, logs)


@pytest.mark.parametrize(
    ("subject", "fragment"),
    [
        (
            lake_bucket({"purpose": "data-lake-raw"}),
            "has no mlops-blueprints.io/data-classification",
        ),
        (
            resource(BUCKET, "raw", {"bucket": "raw", "tags": {"purpose": "data-lake-raw"}}),
            "has no mlops-blueprints.io/data-classification",
        ),
        (lake_bucket({CLASSIFICATION_TAG: "secret"}), "is 'secret'; use one of"),
    ],
)
def test_unclassified_data_lake_buckets_violate(subject: AnalyzedResource, fragment: str) -> None:
    assert fragment in assert_violates(DATA_LAKE_CLASSIFIED, subject).message


# --- PII discovery ---------------------------------------------------------------------------


def macie_job(
    *,
    buckets: list[str] | None = None,
    tag: tuple[str, str] | None = None,
    job_type: str = "SCHEDULED",
    status: str | None = None,
) -> AnalyzedResource:
    definition: dict[str, Any] = {}
    if buckets is not None:
        definition["bucketDefinitions"] = [{"accountId": "123456789012", "buckets": buckets}]
    if tag is not None:
        definition["bucketCriteria"] = {
            "includes": {
                "ands": [
                    {
                        "tagCriterion": {
                            "comparator": "EQ",
                            "tagValues": [{"key": tag[0], "value": tag[1]}],
                        }
                    }
                ]
            }
        }
    props: dict[str, Any] = {"jobType": job_type, "s3JobDefinition": definition}
    if status is not None:
        props["jobStatus"] = status
    return resource(MACIE_JOB, "pii-discovery", props)


_PII_BUCKET = lake_bucket({CLASSIFICATION_TAG: "pii"})


@pytest.mark.parametrize(
    "others",
    [
        [macie_job(buckets=["lake-raw"])],
        [macie_job(tag=(CLASSIFICATION_TAG, "pii"), status="RUNNING")],
    ],
)
def test_pii_bucket_covered_by_a_scheduled_job_complies(others: list[AnalyzedResource]) -> None:
    assert_complies(PII_SCANNED, _PII_BUCKET, *others)


def test_buckets_without_personal_data_need_no_job() -> None:
    assert_complies(PII_SCANNED, lake_bucket({CLASSIFICATION_TAG: "internal"}))


@pytest.mark.parametrize(
    "others",
    [
        [],
        [macie_job(buckets=["lake-curated"])],
        [macie_job(buckets=["lake-raw"], job_type="ONE_TIME")],
        [macie_job(buckets=["lake-raw"], status="USER_PAUSED")],
        [macie_job(tag=(CLASSIFICATION_TAG, "confidential"))],
    ],
)
def test_pii_bucket_without_active_scanning_violates(others: list[AnalyzedResource]) -> None:
    found = assert_violates(PII_SCANNED, _PII_BUCKET, *others)
    assert "lake-raw is classified pii but no scheduled Macie" in found.message


# --- online feature store --------------------------------------------------------------------


def table(
    sse: dict[str, Any] | None, *, tags: dict[str, str] | None = None, name: str = "x"
) -> AnalyzedResource:
    props: dict[str, Any] = {"name": name, "tags": tags or {}}
    if sse is not None:
        props["serverSideEncryption"] = sse
    return resource(TABLE, f"{name}-table", props)


def redis(**props: Any) -> AnalyzedResource:
    base = {
        "replicationGroupId": "acme-online-features",
        "atRestEncryptionEnabled": True,
        "transitEncryptionEnabled": True,
        "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
    }
    base.update(props)
    return resource(
        REDIS, "online-features-replication-group", {k: v for k, v in base.items() if v is not None}
    )


_ONLINE = {"purpose": "online feature store"}
_KEY = "arn:aws:kms:us-east-1:123456789012:key/k"


@pytest.mark.parametrize(
    "subject",
    [
        table({"enabled": True}, tags=_ONLINE),
        table({"enabled": True, "kmsKeyArn": _KEY}, name="acme-online-features"),
        table(None, name="training-jobs"),  # not the online store
        redis(),
    ],
    ids=lambda r: r.name,
)
def test_encrypted_online_store_complies(subject: AnalyzedResource) -> None:
    assert_complies(ONLINE_STORE_ENCRYPTED, subject)


@pytest.mark.parametrize(
    ("subject", "fragment"),
    [
        (table(None, tags=_ONLINE), "serverSideEncryption.enabled is not true"),
        (table({"enabled": False}, name="acme-online-features"), "AWS-owned key"),
        (redis(atRestEncryptionEnabled=False), "atRestEncryptionEnabled is not true"),
        (redis(transitEncryptionEnabled=None), "transitEncryptionEnabled is not true"),
    ],
)
def test_unencrypted_online_store_violates(subject: AnalyzedResource, fragment: str) -> None:
    assert fragment in assert_violates(ONLINE_STORE_ENCRYPTED, subject).message


@pytest.mark.parametrize(
    "subject",
    [table({"enabled": True, "kmsKeyArn": _KEY}, tags=_ONLINE), redis(), table({"enabled": True})],
    ids=lambda r: r.name,
)
def test_online_store_on_the_platform_key_complies(subject: AnalyzedResource) -> None:
    assert_complies(ONLINE_STORE_CUSTOMER_KEY, subject)


@pytest.mark.parametrize(
    ("subject", "fragment"),
    [
        (table({"enabled": True}, tags=_ONLINE), "serverSideEncryption.kmsKeyArn is not set"),
        (redis(kmsKeyId=None), "kmsKeyId is not set"),
    ],
)
def test_online_store_on_an_aws_managed_key_violates(
    subject: AnalyzedResource, fragment: str
) -> None:
    assert fragment in assert_violates(ONLINE_STORE_CUSTOMER_KEY, subject).message


# --- pipeline root ---------------------------------------------------------------------------


def launcher(root: str, *, name: str = "kfp-launcher") -> AnalyzedResource:
    return resource(
        CONFIGMAP_PATCH,
        "pipelines-launcher-config",
        {
            "metadata": {"name": name, "namespace": "kubeflow"},
            "data": {"defaultPipelineRoot": root},
        },
    )


def s3_bucket(name: str, **props: Any) -> AnalyzedResource:
    return resource(BUCKET, f"{name}-bucket", {"bucket": name, **props})


def encryption(bucket: str, algorithm: str = "aws:kms") -> AnalyzedResource:
    return resource(
        SSE,
        f"{bucket}-encryption",
        {
            "bucket": bucket,
            "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}],
        },
    )


@pytest.mark.parametrize(
    "resources",
    [
        [s3_bucket("lake-artifacts"), encryption("lake-artifacts")],
        [s3_bucket("lake-artifacts"), encryption("lake-artifacts", "AES256")],
        [
            s3_bucket(
                "lake-artifacts",
                serverSideEncryptionConfiguration={
                    "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}
                },
            )
        ],
    ],
)
def test_pipeline_root_on_an_encrypted_bucket_complies(resources: list[AnalyzedResource]) -> None:
    assert_complies(PIPELINE_ROOT_ENCRYPTED, launcher("s3://lake-artifacts/pipelines"), *resources)


def test_other_configmaps_are_not_the_pipeline_root() -> None:
    assert_complies(PIPELINE_ROOT_ENCRYPTED, launcher("s3://elsewhere/x", name="feast"))


@pytest.mark.parametrize(
    ("root", "resources", "fragment"),
    [
        (
            "s3://lake-artifacts/pipelines",
            [s3_bucket("lake-artifacts")],
            "lake-artifacts, which has no default server-side encryption",
        ),
        (
            "s3://lake-artifacts/pipelines",
            [s3_bucket("lake-artifacts"), encryption("lake-raw")],
            "has no default server-side encryption",
        ),
        (
            "s3://lake-artifacts/pipelines",
            [s3_bucket("lake-raw"), encryption("lake-raw")],
            "which this stack does not create as an S3 bucket",
        ),
        ("gs://lake-artifacts/pipelines", [], "is not an s3:// location"),
    ],
)
def test_pipeline_root_without_shown_encryption_violates(
    root: str, resources: list[AnalyzedResource], fragment: str
) -> None:
    subject = launcher(root)
    assert fragment in assert_violates(PIPELINE_ROOT_ENCRYPTED, subject, *resources).message


# --- cost allocation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        workload(),
        workload(CRONJOB),
        isvc(),
        resource(
            NAMESPACE, "mlops", {"metadata": {"name": "mlops", "labels": METADATA_LABEL_VALUES}}
        ),
    ],
    ids=lambda r: r.type,
)
def test_labelled_workloads_comply(subject: AnalyzedResource) -> None:
    assert_complies(ALLOCATION_LABELS, subject)


def _without(labels: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != key}


@pytest.mark.parametrize(
    ("subject", "fragment"),
    [
        (
            workload(metadata_labels=_without(METADATA_LABEL_VALUES, "mlops-blueprints.io/level")),
            "metadata.labels lacks mlops-blueprints.io/level",
        ),
        (
            workload(labels=_without(POD_LABEL_VALUES, "mlops-blueprints.io/model")),
            "spec.template.metadata.labels lacks mlops-blueprints.io/model",
        ),
        (
            workload(CRONJOB, labels={}),
            "spec.jobTemplate.spec.template.metadata.labels lacks mlops-blueprints.io/team, "
            "mlops-blueprints.io/model",
        ),
        (
            isvc(predictor=_predictor(labels={"mlops-blueprints.io/model": "churn"})),
            "spec.predictor.labels lacks mlops-blueprints.io/team",
        ),
        (
            resource(
                NAMESPACE,
                "mlops",
                {"metadata": {"labels": {**METADATA_LABEL_VALUES, ENVIRONMENT_LABEL: ""}}},
            ),
            "metadata.labels lacks mlops-blueprints.io/environment",
        ),
    ],
)
def test_unlabelled_workloads_violate(subject: AnalyzedResource, fragment: str) -> None:
    assert fragment in assert_violates(ALLOCATION_LABELS, subject).message


# --- our renders -----------------------------------------------------------------------------


def _found(rule: Rule, resources: list[AnalyzedResource]) -> list[tuple[str, str]]:
    return [(v.resource_name, v.message) for v in violations(rule, *resources)]


@pytest.fixture(scope="module")
def aws_level4(render_level: RenderFn) -> list[AnalyzedResource]:
    return analyzed(render_level(4, "aws", (SERVED_MODELS_CONFIG,)))


@pytest.fixture(scope="module")
def kind_level4(render_level: RenderFn) -> list[AnalyzedResource]:
    return analyzed(render_level(4, "kind"))


def test_level4_aws_with_endpoints_complies(
    aws_level4: list[AnalyzedResource],
) -> None:
    isvcs = [r.name for r in aws_level4 if r.type == ISVC]
    assert sorted(isvcs) == [
        "endpoint-churn-inference-service",
        "endpoint-embedder-inference-service",
        "endpoint-ranker-inference-service",
    ]
    for rule in RULES:
        assert _found(rule, aws_level4) == [], rule.name


def test_level4_kind_complies_but_for_the_in_cluster_pipeline_root(
    kind_level4: list[AnalyzedResource],
) -> None:
    for rule in RULES:
        found = _found(rule, kind_level4)
        if rule is PIPELINE_ROOT_ENCRYPTED:
            # kind's pipeline root is the in-cluster S3-compatible server, not an S3 bucket.
            assert found == [
                (
                    "pipelines-launcher-config",
                    "pipeline root s3://mlops-dev-lake-artifacts/pipelines is on bucket "
                    "mlops-dev-lake-artifacts, which this stack does not create as an S3 "
                    "bucket, so its server-side encryption cannot be shown",
                )
            ]
        else:
            assert found == [], rule.name


def _edited(
    resources: list[AnalyzedResource], name: str, edit: Callable[[dict[str, Any]], None]
) -> list[AnalyzedResource]:
    """A copy of ``resources`` with one resource's props changed by ``edit``."""
    out = []
    for original in resources:
        if original.name != name:
            out.append(original)
            continue
        props = copy.deepcopy(dict(original.props))
        edit(props)
        out.append(
            AnalyzedResource(
                type=original.type,
                name=original.name,
                urn=original.urn,
                props=props,
                parent=original.parent,
            )
        )
    return out


def test_rules_see_the_rendered_objects(aws_level4: list[AnalyzedResource]) -> None:
    """Break each rendered object the rules pass on, and the rule notices."""

    def drop_toleration(props: dict[str, Any]) -> None:
        del props["spec"]["predictor"]["tolerations"]

    broken = _edited(aws_level4, "endpoint-ranker-inference-service", drop_toleration)
    assert [n for n, _ in _found(ACCELERATOR_PLACEMENT, broken)] == [
        "endpoint-ranker-inference-service"
    ]

    def drop_neuron_toleration(props: dict[str, Any]) -> None:
        del props["spec"]["template"]["spec"]["tolerations"]

    broken = _edited(aws_level4, "monitoring-neuron-monitor", drop_neuron_toleration)
    assert [n for n, _ in _found(ACCELERATOR_PLACEMENT, broken)] == ["monitoring-neuron-monitor"]

    def drop_customer_key(props: dict[str, Any]) -> None:
        del props["serverSideEncryption"]["kmsKeyArn"]

    broken = _edited(aws_level4, "online-features-table", drop_customer_key)
    assert [n for n, _ in _found(ONLINE_STORE_CUSTOMER_KEY, broken)] == ["online-features-table"]

    without_encryption = [r for r in aws_level4 if r.name != "data-lake-artifacts-encryption"]
    assert [n for n, _ in _found(PIPELINE_ROOT_ENCRYPTED, without_encryption)] == [
        "pipelines-launcher-config"
    ]

    def classify_pii(props: dict[str, Any]) -> None:
        props["tags"][CLASSIFICATION_TAG] = "pii"

    broken = _edited(aws_level4, "data-lake-raw-bucket", classify_pii)
    assert [n for n, _ in _found(PII_SCANNED, broken)] == ["data-lake-raw-bucket"]

    def drop_team(props: dict[str, Any]) -> None:
        del props["spec"]["predictor"]["labels"]["mlops-blueprints.io/team"]

    broken = _edited(aws_level4, "endpoint-churn-inference-service", drop_team)
    assert [n for n, _ in _found(ALLOCATION_LABELS, broken)] == ["endpoint-churn-inference-service"]
