"""SQL database: RDS for PostgreSQL on aws, an in-cluster PostgreSQL on kind."""

from ._in_cluster import InClusterPostgres, InClusterPostgresArgs
from ._plan import postgres_roles_sql, rds_connect_statements, rds_db_user_arn
from ._rds import RdsPostgres, RdsPostgresArgs

__all__ = [
    "InClusterPostgres",
    "InClusterPostgresArgs",
    "RdsPostgres",
    "RdsPostgresArgs",
    "postgres_roles_sql",
    "rds_connect_statements",
    "rds_db_user_arn",
]
