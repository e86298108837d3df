"""Object storage: S3 on aws, an in-cluster S3-compatible store (SeaweedFS) on kind."""

from ._s3 import S3Bucket, S3BucketArgs
from ._seaweedfs import S3_PORT as SEAWEEDFS_S3_PORT
from ._seaweedfs import SeaweedfsBucket, SeaweedfsServer, SeaweedfsServerArgs

__all__ = [
    "SEAWEEDFS_S3_PORT",
    "S3Bucket",
    "S3BucketArgs",
    "SeaweedfsBucket",
    "SeaweedfsServer",
    "SeaweedfsServerArgs",
]
