"""LeadFactory's file storage: boto3 with typed errors, retries, verified atomic downloads,
bounded batch uploads, and a durable local outbox when the store is unavailable.

    from leadshop_storage import S3Storage
    storage = S3Storage.from_env()          # AWS_S3_BUCKET_NAME, AWS_ENDPOINT_URL, .env ...
    storage.upload_file("report.pdf", "reports/2026/report.pdf")
    url = storage.generate_presigned_url("reports/2026/report.pdf")
"""

from .client import (
    BatchItem,
    DownloadResult,
    ObjectInfo,
    RateLimiter,
    S3Storage,
    SyncReport,
    UploadResult,
)
from .config import StorageConfig
from .errors import (
    AccessDenied,
    IntegrityError,
    InvalidRequest,
    LocalOnly,
    NotFound,
    StorageError,
    StorageUnavailable,
    Throttled,
)
from .outbox import Outbox

__all__ = [
    "AccessDenied", "BatchItem", "DownloadResult", "IntegrityError", "InvalidRequest",
    "LocalOnly", "NotFound", "ObjectInfo", "Outbox", "RateLimiter", "S3Storage",
    "StorageConfig", "StorageError", "StorageUnavailable", "SyncReport", "Throttled",
    "UploadResult",
]
__version__ = "0.1.0"
