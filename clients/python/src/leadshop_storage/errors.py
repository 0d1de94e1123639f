"""Typed errors: what a caller can act on, instead of botocore's ClientError codes."""

from __future__ import annotations

from typing import Optional

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotoConnectionError

try:  # botocore >= 1.31 raises this for a response whose checksum does not match.
    from botocore.exceptions import FlexibleChecksumError

    _CHECKSUM_ERRORS: tuple = (FlexibleChecksumError,)
except ImportError:  # pragma: no cover - older botocore
    _CHECKSUM_ERRORS = ()


class StorageError(Exception):
    """Anything the store refused or failed to do. `code` is S3's error code when there is one."""

    def __init__(self, message: str, *, code: Optional[str] = None, key: Optional[str] = None,
                 status: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.key = key
        self.status = status


class NotFound(StorageError):
    """No such key, version or bucket."""


class AccessDenied(StorageError):
    """The credentials are wrong, or their policy (or the bucket's) refuses the request."""


class InvalidRequest(StorageError):
    """The request itself is wrong (bad argument, precondition, size, checksum header...)."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or is failing (connection refused, timeouts, 5xx), after
    retries. Uploads fall back to the outbox when one is configured."""


class Throttled(StorageUnavailable):
    """The store asks to slow down (SlowDown, 503, throttling), after botocore's retries."""


class IntegrityError(StorageError):
    """Bytes that do not match their checksum: nothing is written to the target."""


class LocalOnly(StorageError):
    """The operation needs the store, and the client runs with LOCAL_ONLY."""


_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NotFound", "404", "NoSuchUpload"}
_DENIED = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "InvalidToken", "ExpiredToken", "AllAccessDisabled", "AccountProblem"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
              "TooManyRequestsException", "RequestThrottled", "503"}


def translate(err: Exception, key: Optional[str] = None) -> StorageError:
    """The typed error for a botocore exception (anything else is wrapped as StorageError)."""
    if isinstance(err, StorageError):
        return err
    if isinstance(err, ClientError):
        info = err.response.get("Error", {}) or {}
        code = str(info.get("Code", "")) or None
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = info.get("Message") or str(err)
        kind: type[StorageError]
        if code in _NOT_FOUND or status == 404:
            kind = NotFound
        elif code in _DENIED or status == 403:
            kind = AccessDenied
        elif code in _THROTTLED or status == 429:
            kind = Throttled
        elif (status or 0) >= 500 or code in {"InternalError", "ServiceUnavailable"}:
            kind = StorageUnavailable
        elif code in {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"}:
            kind = IntegrityError
        else:
            kind = InvalidRequest
        return kind(f"{code}: {message}" if code else message, code=code, key=key, status=status)
    if isinstance(err, _CHECKSUM_ERRORS):
        return IntegrityError(str(err), key=key)
    # Transport failures, by botocore's own classes: connecting (refused, DNS, TLS, proxies,
    # connect timeouts), and the exchange (read timeouts, closed connections, streaming
    # errors, incomplete reads) mean the same to a caller.
    if isinstance(err, (BotoConnectionError, HTTPClientError, IncompleteReadError)):
        return StorageUnavailable(str(err), key=key)
    if isinstance(err, BotoCoreError):
        return StorageError(str(err), key=key)
    if isinstance(err, (ConnectionError, TimeoutError)):
        return StorageUnavailable(str(err), key=key)
    return StorageError(f"{type(err).__name__}: {err}", key=key)
