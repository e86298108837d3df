"""Key-value store: DynamoDB (or ElastiCache for Redis) on aws, an in-cluster Redis on kind."""

from ._dynamodb import DynamoDbTable, DynamoDbTableArgs
from ._elasticache import ElastiCacheRedis, ElastiCacheRedisArgs
from ._in_cluster import InClusterRedis, InClusterRedisArgs
from ._plan import dynamodb_grant_statements, feast_table_prefix, redis_acl_rules

__all__ = [
    "DynamoDbTable",
    "DynamoDbTableArgs",
    "ElastiCacheRedis",
    "ElastiCacheRedisArgs",
    "InClusterRedis",
    "InClusterRedisArgs",
    "dynamodb_grant_statements",
    "feast_table_prefix",
    "redis_acl_rules",
]
