"""The local outbox: uploads (and deletes) made while the store is unreachable, kept durably
on disk and delivered later, each exactly once and in the order they were made.

Layout of the outbox directory (0700):
- `journal.jsonl`: append-only, one JSON record per line, each appended with `fsync`:
  `{"op": "put"|"delete", "id", "key", ...}` when an operation is queued and
  `{"op": "done", "id"}` when it was delivered. A line torn by a crash is cut off when the
  journal is next opened; everything before it is intact.
- `blobs/<id>`: the bytes of a queued upload, written to `blobs/.<id>.tmp`, fsynced, and renamed
  in place under the journal lock together with the journal record, so a blob is never
  visible without its record.
- `journal.lock` (held while the journal changes) and `sync.lock` (held by the one process
  delivering): OS file locks, so an application and `python -m leadshop_storage sync` can share
  the directory.

Exactly once: every upload carries an id in `x-amz-meta-leadshop-upload-id`, the same when it
is tried directly and when it is queued (the entry's id). A deliverer finds the id on the key
when the upload already landed — a direct attempt whose answer was lost when the store died,
or a delivery that crashed before writing `done` — and only writes `done`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Literal, Optional

log = logging.getLogger("leadshop_storage.outbox")

UPLOAD_ID_META = "leadshop-upload-id"
SHA256_META = "sha256"
_CHUNK = 1 << 20


class OutboxCorrupt(Exception):
    """A journal line other than the last does not parse: the outbox needs a person."""


@dataclass(frozen=True)
class Entry:
    """One queued operation."""

    id: str
    op: Literal["put", "delete"]
    key: str
    sha256: Optional[str] = None
    size: Optional[int] = None
    content_type: Optional[str] = None
    metadata: Dict[str, str] = field(default_factory=dict)
    queued_at: float = 0.0

    @classmethod
    def from_record(cls, r: dict) -> "Entry":
        return cls(id=r["id"], op=r["op"], key=r["key"], sha256=r.get("sha256"),
                   size=r.get("size"), content_type=r.get("content_type"),
                   metadata=dict(r.get("metadata") or {}), queued_at=r.get("queued_at", 0.0))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> tuple[str, int]:
    """Hex SHA-256 and size of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class Outbox:
    """A durable queue of uploads and deletes in a directory."""

    def __init__(self, root: os.PathLike | str) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.journal = self.root / "journal.jsonl"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.blobs.mkdir(exist_ok=True, mode=0o700)
        self._mutex = threading.RLock()

    # -- locking and the journal -------------------------------------------------------------

    @contextlib.contextmanager
    def _flock(self, name: str, blocking: bool = True) -> Iterator[bool]:
        fd = os.open(self.root / name, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex, self._flock("journal.lock"):
            yield

    def _records(self) -> list[dict]:
        """Every journal record, in order; call it holding the journal lock."""
        try:
            data = self.journal.read_bytes()
        except FileNotFoundError:
            return []
        if data and not data.endswith(b"\n"):
            # A crash tore the last append: cut it off so the next record starts a line.
            keep = data.rfind(b"\n") + 1
            log.warning("outbox journal %s: dropping a torn last record (%d bytes)",
                        self.journal, len(data) - keep)
            with open(self.journal, "r+b") as f:
                f.truncate(keep)
                f.flush()
                os.fsync(f.fileno())
            data = data[:keep]
        out = []
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise OutboxCorrupt(f"{self.journal}:{n}: {e}") from e
        return out

    def _append(self, record: dict) -> None:
        """Appends one record durably; call it holding the journal lock."""
        created = not self.journal.exists()
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.root)

    @staticmethod
    def _pending_of(records: list[dict]) -> list[Entry]:
        done = {r["id"] for r in records if r["op"] == "done"}
        return [Entry.from_record(r) for r in records
                if r["op"] in ("put", "delete") and r["id"] not in done]

    # -- queueing ------------------------------------------------------------------------------

    @staticmethod
    def new_id() -> str:
        """A fresh upload id, sortable by time."""
        return Outbox._new_id()

    @staticmethod
    def _new_id() -> str:
        # Sortable by time, unique across processes.
        return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"

    def put(self, source: os.PathLike | str, key: str, *, content_type: Optional[str] = None,
            metadata: Optional[dict] = None, sha256: Optional[str] = None,
            entry_id: Optional[str] = None) -> Entry:
        """Queues an upload of `source` (copied into the outbox) as `key`; `entry_id` is the
        upload id it was already tried with, if any."""
        entry_id = entry_id or self._new_id()
        tmp = self.blobs / f".{entry_id}.tmp"
        h = hashlib.sha256()
        size = 0
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                size += len(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        digest = h.hexdigest()
        if sha256 is not None and sha256 != digest:
            tmp.unlink(missing_ok=True)
            raise ValueError(f"{source} changed while it was queued (SHA-256 differs)")
        record = {"op": "put", "id": entry_id, "key": key, "sha256": digest, "size": size,
                  "content_type": content_type, "metadata": dict(metadata or {}),
                  "queued_at": time.time()}
        with self._locked():
            os.rename(tmp, self.blobs / entry_id)
            _fsync_dir(self.blobs)
            self._append(record)
        log.warning("queued %s in the outbox %s (%d bytes, entry %s): the store is unavailable",
                    key, self.root, size, entry_id)
        return Entry.from_record(record)

    def delete(self, key: str) -> Entry:
        """Queues a delete of `key`, after every operation queued before it."""
        record = {"op": "delete", "id": self._new_id(), "key": key, "queued_at": time.time()}
        with self._locked():
            self._append(record)
        log.warning("queued the delete of %s in the outbox %s", key, self.root)
        return Entry.from_record(record)

    # -- reading -------------------------------------------------------------------------------

    def pending(self) -> list[Entry]:
        """Operations not delivered yet, oldest first."""
        with self._locked():
            return self._pending_of(self._records())

    def __len__(self) -> int:
        return len(self.pending())

    def latest(self, key: str) -> Optional[Entry]:
        """The newest pending operation on `key` (what the key holds once delivered)."""
        for e in reversed(self.pending()):
            if e.key == key:
                return e
        return None

    def blob(self, entry: Entry) -> Path:
        """Where a queued upload's bytes are."""
        return self.blobs / entry.id

    # -- delivery ------------------------------------------------------------------------------

    def mark_done(self, entry: Entry, *, failed: Optional[str] = None) -> None:
        """Records that `entry` was delivered (or, with `failed`, given up), then drops its
        bytes; an empty outbox is compacted."""
        with self._locked():
            record = {"op": "done", "id": entry.id}
            if failed:
                record["failed"] = failed
            self._append(record)
            if entry.op == "put" and not failed:
                self.blob(entry).unlink(missing_ok=True)
            self._compact_locked()

    def quarantine(self, entry: Entry, why: str) -> Path:
        """Moves a queued upload's bytes aside (they fail their checksum) and gives it up."""
        qdir = self.root / "quarantine"
        qdir.mkdir(exist_ok=True, mode=0o700)
        target = qdir / entry.id
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.blob(entry), target)
        log.error("outbox entry %s (%s) %s: moved to %s and not delivered", entry.id, entry.key,
                  why, target)
        self.mark_done(entry, failed=why)
        return target

    @contextlib.contextmanager
    def delivering(self, wait: bool = True) -> Iterator[bool]:
        """Held by the one process delivering the outbox; yields False when another holds it
        and `wait` is False."""
        with self._flock("sync.lock", blocking=wait) as got:
            yield got

    def _compact_locked(self) -> None:
        records = self._records()
        pending = self._pending_of(records)
        if pending and len(records) < 1000:
            return
        # Rewrite the journal with the pending records only (none: an empty journal).
        keep_ids = {e.id for e in pending}
        keep = [r for r in records if r["op"] != "done" and r["id"] in keep_ids]
        tmp = self.root / ".journal.jsonl.tmp"
        with open(tmp, "wb") as f:
            for r in keep:
                f.write((json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.journal)
        _fsync_dir(self.root)
        # Bytes of entries no longer pending (a crash between `done` and the unlink).
        wanted = {e.id for e in pending if e.op == "put"}
        for p in self.blobs.iterdir():
            if p.name.startswith("."):
                # A blob being written now (not yet renamed), or one a crash left half
                # written: only the latter is old.
                if time.time() - p.stat().st_mtime > 24 * 3600:
                    p.unlink(missing_ok=True)
            elif p.name not in wanted:
                p.unlink(missing_ok=True)
