"""`S3Storage`: LeadFactory's storage operations on boto3, the same against AWS S3, leadshop
or any S3-compatible store."""

from __future__ import annotations

import logging
import mimetypes
import os
import shutil
import ssl
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, List, Optional, Sequence, Union, cast

import boto3
import botocore.exceptions
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig

from .config import StorageConfig
from .errors import (
    AccessDenied,
    IntegrityError,
    LocalOnly,
    NotFound,
    StorageError,
    StorageUnavailable,
    translate,
)
from .outbox import SHA256_META, UPLOAD_ID_META, Entry, Outbox, sha256_file

if TYPE_CHECKING:  # the types-boto3 stubs (`boto3-stubs[s3]`), for type checkers only
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("leadshop_storage")

PathLike = Union[str, "os.PathLike[str]"]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class UploadResult:
    """Where an upload went: the store (etag, version) or the outbox (`queued`)."""

    key: str
    size: int
    sha256: str
    etag: Optional[str] = None
    version_id: Optional[str] = None
    queued: bool = False
    outbox_id: Optional[str] = None


@dataclass(frozen=True)
class DownloadResult:
    """A completed download: `source` is `store` or `outbox`."""

    key: str
    path: Path
    size: int
    sha256: str
    source: str = "store"
    version_id: Optional[str] = None


@dataclass(frozen=True)
class ObjectInfo:
    """One object of a listing."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    storage_class: str = "STANDARD"


@dataclass
class BatchItem:
    """One file of `upload_many`: its result, or the error it ended with."""

    path: Path
    key: str
    result: Optional[UploadResult] = None
    error: Optional[StorageError] = None


@dataclass
class SyncReport:
    """What one pass over the outbox did."""

    delivered: list
    remaining: int = 0
    error: Optional[StorageError] = None
    busy: bool = False


class RateLimiter:
    """At most `rate` starts per second (a token bucket of `burst`), shared by threads."""

    def __init__(self, rate: float, burst: Optional[int] = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Storage:
    """The storage client. Build it with `S3Storage.from_env()` (or a `StorageConfig`)."""

    def __init__(self, config: StorageConfig, *, session: Optional[boto3.session.Session] = None,
                 client: Optional["S3Client"] = None) -> None:
        self.config = config
        self.bucket = config.bucket
        self.outbox = Outbox(config.outbox_dir) if config.outbox_dir else None
        self._down_until = 0.0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.transfer = TransferConfig(multipart_threshold=8 * 1024 * 1024, max_concurrency=4)
        # A botocore S3 client; None when the store is disabled (LOCAL_ONLY).
        self.client: Optional[S3Client] = None
        if not config.local_only:
            if session is None:
                session = boto3.session.Session(profile_name=config.profile) if config.profile \
                    else boto3.session.Session()
            self.client = client or session.client(
                "s3",
                region_name=config.region,
                endpoint_url=config.endpoint_url,
                verify=config.ca_bundle if config.ca_bundle else None,
                config=BotoConfig(
                    signature_version="s3v4",
                    retries=cast(Any, {"mode": config.retry_mode,
                                       "total_max_attempts": config.max_attempts}),
                    connect_timeout=config.connect_timeout,
                    read_timeout=config.read_timeout,
                    max_pool_connections=32,
                    s3=cast(Any, {"addressing_style": config.addressing_style or "auto"}),
                ),
            )
        # What the transfer manager's multipart completions answered, by this package's
        # upload id (an upload reads its ETag and version there, not with a HEAD).
        self._completions = _Completions(self.client) if self.client is not None else None
        # No thread is started here: delivery of the outbox starts with the first write that
        # meets it (or `start_delivery()`).
        self._thread_lock = threading.Lock()

    def start_delivery(self) -> bool:
        """Starts the background thread that delivers the outbox every `sync_interval`
        seconds, once; a client without an outbox, store or interval starts none. Writes
        start it themselves when they meet the outbox; a process that only wants an outbox
        left by an earlier run delivered calls this (or `sync()`). Returns whether it runs."""
        if self.outbox is None or self.client is None or self.config.sync_interval <= 0:
            return False
        with self._thread_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._sync_loop,
                                                name="leadshop-storage-sync", daemon=True)
                self._thread.start()
            return self._thread is not None

    @classmethod
    def from_env(cls, dotenv_path: Optional[PathLike] = None, **overrides) -> "S3Storage":
        """A client configured from the environment and `.env` (see `leadshop_storage.config`)."""
        return cls(StorageConfig.from_env(dotenv_path, **overrides))

    def close(self) -> None:
        """Stops the background delivery thread (the outbox stays on disk)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> "S3Storage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the store's health ---------------------------------------------------------------------

    def _mark_down(self, err: StorageError) -> None:
        if time.monotonic() >= self._down_until:
            log.warning("the store is unavailable (%s); %s for %.0f s", err,
                        "uploads go to the outbox" if self.outbox is not None else "requests fail fast",
                        self.config.down_cooldown)
        self._down_until = time.monotonic() + self.config.down_cooldown

    def _is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _call(self, fn: Callable, key: Optional[str] = None):
        """Runs one store call, with typed errors. Retries are botocore's alone (its `standard`
        or `adaptive` mode, `STORAGE_MAX_ATTEMPTS` attempts, throttling included)."""
        if self.client is None:
            raise LocalOnly("the store is disabled (LOCAL_ONLY)", key=key)
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - translated below
            context = e.__context__ if isinstance(e, S3UploadFailedError) else None
            cause = context if isinstance(context, Exception) else e
            err = self._explain_shadowed_ca(translate(cause, key), cause)
            if isinstance(err, StorageUnavailable):
                self._mark_down(err)
            raise err from e

    def _explain_shadowed_ca(self, err: StorageError, cause: BaseException) -> StorageError:
        """A certificate failure while an exported AWS_CA_BUNDLE shadows the .env's: say so,
        with both bundles, instead of a bare SSL error."""
        if "AWS_CA_BUNDLE" not in self.config.shadowed or not isinstance(
                cause, (botocore.exceptions.SSLError, ssl.SSLError)):
            return err
        exported, in_file = self.config.shadowed["AWS_CA_BUNDLE"]
        return type(err)(f"{err} -- the endpoint {self.config.endpoint_url} was checked against "
                         f"the exported AWS_CA_BUNDLE={exported}, which shadows the .env's "
                         f"AWS_CA_BUNDLE={in_file}: unset AWS_CA_BUNDLE (or export the .env's)",
                         code=err.code, key=err.key, status=err.status)

    def _should_queue(self) -> bool:
        """Whether a write goes to the outbox: the store is off or down, or writes queued
        before it are still waiting (writes are delivered in the order they were made, so
        their delivery starts here)."""
        if self.outbox is None:
            return False
        waiting = len(self.outbox) > 0
        if waiting:
            self.start_delivery()
        return self.client is None or self._is_down() or waiting

    # -- operations ----------------------------------------------------------------------------

    def upload_file(self, path: PathLike, key: str, *, content_type: Optional[str] = None,
                    metadata: Optional[dict] = None,
                    progress: Optional[Progress] = None) -> UploadResult:
        """Uploads a file: one PutObject below 8 MiB, boto3's multipart transfer above. Its
        SHA-256 goes into the object's metadata, so downloads can verify it. When the store is unavailable and an outbox is
        configured, the file is queued there instead (`result.queued`)."""
        path = Path(path)
        digest, size = sha256_file(path)
        content_type = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
        upload_id = Outbox.new_id()
        meta = {**(metadata or {}), SHA256_META: digest, UPLOAD_ID_META: upload_id}
        if self._should_queue():
            return self._queue(path, key, content_type, metadata, digest, upload_id)
        try:
            if size < self.transfer.multipart_threshold:
                # One PUT, whose answer names the ETag and the version.
                with open(path, "rb") as body:
                    head = self._call(lambda: self._s3.put_object(
                        Bucket=self.bucket, Key=key, Body=body, Metadata=meta,
                        ContentType=content_type), key)
                if progress:
                    progress(size)
            else:
                # boto3's transfer manager (parallel parts); its completion's answer (ETag,
                # version) is caught on the way by `_Completions`.
                assert self._completions is not None
                try:
                    self._call(lambda: self._s3.upload_file(
                        str(path), self.bucket, key,
                        ExtraArgs={"Metadata": meta, "ContentType": content_type},
                        Callback=progress, Config=self.transfer), key)
                finally:
                    completed = self._completions.take(upload_id)
                if completed is None:
                    raise StorageError(f"{key}: the multipart upload finished without a "
                                       "CompleteMultipartUpload answer", key=key)
                head = completed
        except StorageUnavailable:
            if self.outbox is None:
                raise
            # The store may have taken it before it failed: the upload id tells the deliverer.
            return self._queue(path, key, content_type, metadata, digest, upload_id)
        return UploadResult(key=key, size=size, sha256=digest, etag=head.get("ETag"),
                            version_id=head.get("VersionId"))

    def _queue(self, path: Path, key: str, content_type: str, metadata: Optional[dict],
               digest: str, upload_id: str) -> UploadResult:
        assert self.outbox is not None
        e = self.outbox.put(path, key, content_type=content_type, metadata=metadata,
                            sha256=digest, entry_id=upload_id)
        self.start_delivery()
        return UploadResult(key=key, size=e.size or 0, sha256=digest, queued=True,
                            outbox_id=e.id)

    def download_file(self, key: str, dest: PathLike, *, version_id: Optional[str] = None,
                      progress: Optional[Progress] = None, verify: bool = True) -> DownloadResult:
        """Downloads `key` to `dest` atomically: the bytes go to a temporary file beside it,
        are checked (size, and the SHA-256 recorded at upload), fsynced, then renamed over
        `dest`; a failed or partial download never replaces it. A key with an upload still in
        the outbox is served from there (it is the newest write)."""
        dest = Path(dest)
        if self.outbox is not None and version_id is None:
            queued = self.outbox.latest(key)
            if queued is not None:
                if queued.op == "delete":
                    raise NotFound(f"{key} was deleted (the delete waits in the outbox)", key=key)
                return self._from_outbox(queued, dest, progress)
        if self.client is None:
            raise NotFound(f"{key} is not in the local outbox (LOCAL_ONLY)", key=key)
        return self._download(key, dest, version_id, progress, verify)

    def _download(self, key, dest: Path, version_id, progress, verify) -> DownloadResult:
        """boto3's transfer manager fetches the object (parallel ranged GETs above 8 MiB,
        pinned to one ETag, each part retried on a lost connection) into a temporary file
        beside `dest`; its size and the SHA-256 recorded at upload are checked, then it is
        fsynced and renamed over `dest`."""
        params = {"Bucket": self.bucket, "Key": key}
        extra = {}
        if version_id:
            params["VersionId"] = version_id
            extra["VersionId"] = version_id
        head = self._call(lambda: self._s3.head_object(**params), key)
        tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.part"
        try:
            self._call(lambda: self._s3.download_file(
                self.bucket, key, str(tmp), ExtraArgs=extra or None, Callback=progress,
                Config=self.transfer), key)
            digest, size = sha256_file(tmp)
            expected_len = head.get("ContentLength")
            if expected_len is not None and expected_len != size:
                raise IntegrityError(f"{key}: got {size} bytes of {expected_len}", key=key)
            expected = (head.get("Metadata") or {}).get(SHA256_META)
            if verify and expected and expected != digest:
                raise IntegrityError(f"{key}: SHA-256 {digest} does not match the recorded "
                                     f"{expected}", key=key)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
            _fsync_dir(dest.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return DownloadResult(key=key, path=dest, size=size, sha256=digest,
                              version_id=head.get("VersionId"))

    def _from_outbox(self, e: Entry, dest: Path, progress) -> DownloadResult:
        assert self.outbox is not None
        tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.part"
        try:
            shutil.copyfile(self.outbox.blob(e), tmp)
            digest, size = sha256_file(tmp)
            if digest != e.sha256:
                raise IntegrityError(f"{e.key}: the outbox copy fails its SHA-256", key=e.key)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
            _fsync_dir(dest.parent)
        finally:
            tmp.unlink(missing_ok=True)
        if progress:
            progress(size)
        return DownloadResult(key=e.key, path=dest, size=size, sha256=digest, source="outbox")

    def generate_presigned_url(self, key: str, *, method: str = "GET", expires_in: int = 3600,
                               content_type: Optional[str] = None,
                               version_id: Optional[str] = None) -> str:
        """A presigned GET (download) or PUT (upload) URL, SigV4, valid `expires_in` seconds
        (at most 7 days). A PUT signed with `content_type` must be sent with that type."""
        self._need_client(key)
        method = method.upper()
        if not 1 <= expires_in <= 7 * 24 * 3600:
            raise ValueError("expires_in must be between 1 second and 7 days")
        params = {"Bucket": self.bucket, "Key": key}
        if method == "GET":
            op = "get_object"
            if version_id:
                params["VersionId"] = version_id
        elif method == "PUT":
            op = "put_object"
            if content_type:
                params["ContentType"] = content_type
        else:
            raise ValueError("method must be GET or PUT")
        return self._s3.generate_presigned_url(op, Params=params, ExpiresIn=expires_in)

    def generate_presigned_post(self, key: str, *, content_type: Optional[str] = None,
                                content_type_prefix: Optional[str] = None,
                                max_size: int = 100 * 1024 * 1024, min_size: int = 1,
                                expires_in: int = 3600) -> dict:
        """A presigned POST for a browser upload of `key` (`{"url", "fields"}`): the policy
        limits the size to [`min_size`, `max_size`] bytes and the type to `content_type`
        exactly or to one starting with `content_type_prefix` (e.g. `image/`)."""
        self._need_client(key)
        # The bucket as a form field too: AWS accepts it (botocore's policy already holds the
        # {"bucket": ...} condition), and some S3-compatible stores (Garage) require it.
        fields: dict = {"bucket": self.bucket}
        conditions: list = [["content-length-range", min_size, max_size]]
        if content_type:
            fields["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        elif content_type_prefix:
            conditions.append(["starts-with", "$Content-Type", content_type_prefix])
        return self._s3.generate_presigned_post(self.bucket, key, Fields=fields,
                                                   Conditions=conditions, ExpiresIn=expires_in)

    def delete(self, key: str, *, version_id: Optional[str] = None) -> None:
        """Deletes `key` (a delete marker where versioning is on) or one version of it. While
        the store is unavailable a delete of the key waits in the outbox, behind the uploads
        queued before it."""
        if version_id is None and self._should_queue():
            self.outbox.delete(key)  # type: ignore[union-attr]
            return
        try:
            if version_id:
                self._call(lambda: self._s3.delete_object(
                    Bucket=self.bucket, Key=key, VersionId=version_id), key)
            else:
                self._call(lambda: self._s3.delete_object(Bucket=self.bucket, Key=key), key)
        except StorageUnavailable:
            if self.outbox is None or version_id is not None:
                raise
            self.outbox.delete(key)

    def purge(self, prefix: str) -> int:
        """Removes every version and delete marker under `prefix` for good, and returns how
        many: what a test or benchmark run does to leave nothing behind (a plain `delete` only
        adds a delete marker and keeps the bytes, counted in size and cost, for the lifecycle
        rules' 90 days). Needs s3:ListBucketVersions and s3:DeleteObjectVersion on the prefix:
        the app policy grants both only under `integration-tests/` and `performance-tests/`.
        An empty prefix is refused."""
        if not prefix:
            raise ValueError("purge needs a prefix: an empty one would remove the whole bucket's history")
        self._need_client(prefix)
        pages = iter(self._s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=prefix))
        removed = 0
        while True:
            page = self._call(lambda: next(pages, None), prefix)
            if page is None:
                return removed
            batch: List[Any] = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if not batch:
                continue
            out = self._call(lambda: self._s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}), prefix)
            errors = out.get("Errors", [])
            if errors:
                first = errors[0]
                kind = AccessDenied if first.get("Code") == "AccessDenied" else StorageError
                raise kind(f"purge {prefix}: {len(errors)} of {len(batch)} versions not removed "
                           f"({first.get('Key')}: {first.get('Code')}: {first.get('Message')})",
                           code=first.get("Code"), key=first.get("Key"))
            removed += len(batch)

    def exists(self, key: str) -> bool:
        """Whether `key` has a current object (counting writes waiting in the outbox)."""
        if self.outbox is not None:
            queued = self.outbox.latest(key)
            if queued is not None:
                return queued.op == "put"
        if self.client is None:
            return False
        try:
            self._call(lambda: self._s3.head_object(Bucket=self.bucket, Key=key), key)
            return True
        except NotFound:
            return False

    def list(self, prefix: str = "", *, max_items: Optional[int] = None) -> Iterator[ObjectInfo]:
        """Deprecated: `list_objects` (this name shadows the builtin)."""
        warnings.warn("S3Storage.list is deprecated; use S3Storage.list_objects",
                      DeprecationWarning, stacklevel=2)
        return self.list_objects(prefix, max_items=max_items)

    def list_objects(self, prefix: str = "", *,
                     max_items: Optional[int] = None) -> Iterator[ObjectInfo]:
        """The store's objects under `prefix`, in key order (writes waiting in the outbox are
        not listed: see `Outbox.pending`)."""
        self._need_client(prefix)
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix,
            PaginationConfig={"MaxItems": max_items} if max_items else {})
        it = iter(pages)
        while True:
            page = self._call(lambda: next(it, None), prefix)
            if page is None:
                return
            for o in page.get("Contents", []):
                yield ObjectInfo(key=o["Key"], size=o["Size"], etag=o["ETag"],
                                 last_modified=o["LastModified"],
                                 storage_class=o.get("StorageClass", "STANDARD"))

    def upload_many(self, items: Iterable[tuple[PathLike, str]], *, max_concurrency: int = 8,
                    rate_limit: Optional[float] = None,
                    progress: Optional[Callable[[BatchItem], None]] = None) -> List[BatchItem]:
        """Uploads many files, at most `max_concurrency` at once and at most `rate_limit`
        starts per second. Each file's result or error is in its `BatchItem` (one failure does
        not stop the others); files the store could not take go to the outbox."""
        batch = [BatchItem(path=Path(p), key=k) for p, k in items]
        limiter = RateLimiter(rate_limit) if rate_limit else None

        def one(item: BatchItem) -> BatchItem:
            if limiter:
                limiter.acquire()
            try:
                item.result = self.upload_file(item.path, item.key)
            except StorageError as e:
                item.error = e
            except OSError as e:
                item.error = StorageError(f"{item.path}: {e}", key=item.key)
            if progress:
                progress(item)
            return item

        with ThreadPoolExecutor(max_workers=max(1, max_concurrency),
                                thread_name_prefix="leadshop-upload") as pool:
            list(pool.map(one, batch))
        return batch

    # -- the outbox ----------------------------------------------------------------------------

    def sync(self, *, wait: bool = True) -> SyncReport:
        """Delivers the outbox, oldest first, each operation exactly once; stops at the first
        failure (to keep the order) and reports it. Another process delivering the same
        outbox makes this wait (or, with `wait=False`, return `busy`)."""
        report = SyncReport(delivered=[])
        if self.outbox is None or self.client is None:
            return report
        with self.outbox.delivering(wait=wait) as got:
            if not got:
                report.busy = True
                return report
            while True:
                pending = self.outbox.pending()
                if not pending:
                    break
                entry = pending[0]
                try:
                    self._deliver(entry)
                except StorageError as e:
                    report.error = e
                    log.warning("outbox delivery stopped at %s (%s): %s", entry.key, entry.id, e)
                    break
                report.delivered.append(entry)
            report.remaining = len(self.outbox)
        if report.delivered:
            log.info("delivered %d outbox entries (%d remaining)", len(report.delivered),
                     report.remaining)
        return report

    def _deliver(self, e: Entry) -> None:
        assert self.outbox is not None
        if e.op == "delete":
            try:
                self._call(lambda: self._s3.delete_object(Bucket=self.bucket, Key=e.key), e.key)
            except NotFound:
                pass
            self.outbox.mark_done(e)
            return
        blob = self.outbox.blob(e)
        try:
            digest, size = sha256_file(blob)
        except FileNotFoundError:
            self.outbox.quarantine(e, "has lost its bytes")
            return
        if digest != e.sha256 or size != e.size:
            self.outbox.quarantine(e, "fails its SHA-256")
            return
        # Landed already (a direct attempt whose answer was lost, or a delivery that crashed
        # before `done`): the key carries this entry's id.
        if self._delivered(e):
            self.outbox.mark_done(e)
            return
        meta = {**e.metadata, SHA256_META: e.sha256, UPLOAD_ID_META: e.id}
        extra = {"Metadata": meta, "ContentType": e.content_type or "application/octet-stream"}
        self._call(lambda: self._s3.upload_file(str(blob), self.bucket, e.key, ExtraArgs=extra,
                                                   Config=self.transfer), e.key)
        if not self._delivered(e, size):
            raise IntegrityError(f"{e.key}: the store does not show the delivered upload {e.id}",
                                 key=e.key)
        self.outbox.mark_done(e)

    def _delivered(self, e: Entry, size: Optional[int] = None) -> bool:
        try:
            head = self._call(lambda: self._s3.head_object(Bucket=self.bucket, Key=e.key),
                              e.key)
        except NotFound:
            return False
        meta = head.get("Metadata") or {}
        return meta.get(UPLOAD_ID_META) == e.id and (size is None or head["ContentLength"] == size)

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.config.sync_interval):
            try:
                if self.outbox is not None and not self._is_down() and len(self.outbox) > 0:
                    self.sync(wait=False)
            except Exception:  # noqa: BLE001 - the thread must survive anything
                log.exception("outbox delivery failed; retrying in %.0f s",
                              self.config.sync_interval)

    @property
    def _s3(self) -> "S3Client":
        """The S3 client; `LocalOnly` when the store is disabled."""
        if self.client is None:
            raise LocalOnly("the store is disabled (LOCAL_ONLY)")
        return self.client

    def _need_client(self, key: Optional[str]) -> None:
        if self.client is None:
            raise LocalOnly("the store is disabled (LOCAL_ONLY)", key=key)


__all__: Sequence[str] = ["S3Storage", "UploadResult", "DownloadResult", "ObjectInfo",
                          "BatchItem", "SyncReport", "RateLimiter"]


class _Completions:
    """The answers to the CompleteMultipartUpload requests boto3's transfer manager sends,
    kept by the upload id this package puts in the object's metadata, so that a multipart
    upload learns its ETag and version without a HEAD (the transfer manager returns nothing).

    It listens on the client's botocore events: CreateMultipartUpload's parameters carry the
    package's id and its answer S3's UploadId; CompleteMultipartUpload's parameters carry that
    UploadId and its answer the ETag and version. `context` is botocore's per-request dict,
    the same object from the parameters to the answer, so concurrent uploads on one client
    (threads of the transfer manager, `upload_many`) do not mix."""

    def __init__(self, client: "S3Client") -> None:
        self._lock = threading.Lock()
        self._ours: dict = {}  # S3's UploadId -> this package's upload id
        self._answers: dict = {}  # this package's upload id -> {"ETag", "VersionId"}
        events = client.meta.events
        tag = f"leadshop-completions-{id(self)}"
        events.register("provide-client-params.s3.CreateMultipartUpload", self._create_params,
                        unique_id=f"{tag}-create-params")
        events.register("after-call.s3.CreateMultipartUpload", self._created,
                        unique_id=f"{tag}-created")
        events.register("provide-client-params.s3.CompleteMultipartUpload",
                        self._complete_params, unique_id=f"{tag}-complete-params")
        events.register("after-call.s3.CompleteMultipartUpload", self._completed,
                        unique_id=f"{tag}-completed")

    def _create_params(self, params: dict, context: dict, **_: Any) -> None:
        ours = (params.get("Metadata") or {}).get(UPLOAD_ID_META)
        if ours:
            context["leadshop_upload_id"] = ours

    def _created(self, parsed: dict, context: dict, **_: Any) -> None:
        ours, theirs = context.get("leadshop_upload_id"), parsed.get("UploadId")
        if ours and theirs:
            with self._lock:
                self._ours[theirs] = ours

    def _complete_params(self, params: dict, context: dict, **_: Any) -> None:
        context["leadshop_s3_upload_id"] = params.get("UploadId")

    def _completed(self, parsed: dict, context: dict, **_: Any) -> None:
        if "ETag" not in parsed:  # an error's answer
            return
        with self._lock:
            ours = self._ours.pop(context.get("leadshop_s3_upload_id"), None)
            if ours:
                self._answers[ours] = {"ETag": parsed["ETag"],
                                       "VersionId": parsed.get("VersionId")}

    def take(self, ours: str) -> Optional[dict]:
        """The answer of the upload `ours`, once; forgets the upload either way (an aborted
        one leaves nothing behind)."""
        with self._lock:
            for theirs in [t for t, o in self._ours.items() if o == ours]:
                del self._ours[theirs]
            return self._answers.pop(ours, None)
