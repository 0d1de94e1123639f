"""LeadFactory's storage client (the seed's `src/core/storage/s3_client.py`).

A thin layer over the `leadshop-storage` package (`pip install ./clients/python`): settings
from the environment or `.env` (AWS_S3_BUCKET_NAME, AWS_DEFAULT_REGION, credentials through
boto3's chain, AWS_ENDPOINT_URL and AWS_CA_BUNDLE for leadshop, STORAGE_OUTBOX_DIR for the
local fallback, LOCAL_ONLY to run with S3 disabled). Nothing here is specific to leadshop: the
same code runs against AWS S3.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from leadshop_storage import (
    AccessDenied,
    NotFound,
    S3Storage,
    StorageError,
    StorageUnavailable,
)

# The errors the application catches, re-exported with the client.
__all__ = ["AccessDenied", "NotFound", "StorageError", "StorageUnavailable", "get_storage",
           "upload_file", "download_file", "generate_presigned_url", "generate_presigned_post"]

SCREENSHOTS = "screenshots/"
REPORTS = "reports/"
UPLOADS = "tmp/"


@lru_cache(maxsize=1)
def get_storage() -> S3Storage:
    """The application's one storage client."""
    return S3Storage.from_env()


def upload_file(path: str | Path, key: str, content_type: Optional[str] = None) -> str:
    """Uploads a file; returns its key. Falls back to the local outbox when S3 is down."""
    get_storage().upload_file(path, key, content_type=content_type)
    return key


def download_file(key: str, dest: str | Path) -> Path:
    """Downloads `key` to `dest` (atomically, checksum verified)."""
    return get_storage().download_file(key, dest).path


def generate_presigned_url(key: str, expires_in: int = 3600, method: str = "GET") -> str:
    """A presigned URL for the browser: GET to download, PUT to upload."""
    return get_storage().generate_presigned_url(key, method=method, expires_in=expires_in)


def generate_presigned_post(key: str, content_type: str, max_size: int = 50 * 1024 * 1024) -> dict:
    """The presigned POST of the browser upload flow (`{"url", "fields"}`)."""
    return get_storage().generate_presigned_post(key, content_type=content_type,
                                                 max_size=max_size)
