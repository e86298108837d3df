"""Object storage: S3 on aws, an in-cluster S3-compatible store (SeaweedFS) on kind."""

from ._s3 import S3Bucket, S3BucketArgs
from ._seaweedfs import SeaweedfsBucket, SeaweedfsServer, SeaweedfsServerArgs

__all__ = ["S3Bucket", "S3BucketArgs", "SeaweedfsBucket", "SeaweedfsServer", "SeaweedfsServerArgs"]
