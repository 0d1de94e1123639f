"""Settings from the environment (or a `.env` file read with python-dotenv).

| variable | meaning |
|---|---|
| `AWS_S3_BUCKET_NAME` | the bucket (required) |
| `AWS_DEFAULT_REGION` / `AWS_REGION` | region (`us-east-1` when unset) |
| `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, roles | boto3's own credential chain |
| `AWS_ENDPOINT_URL` | another S3 endpoint (leadshop, an S3-compatible cluster); unset for AWS |
| `AWS_CA_BUNDLE` | CA certificates to trust (leadshop's dev CA) |
| `STORAGE_OUTBOX_DIR` | the local outbox (uploads go there when the store is down); unset: no fallback |
| `LOCAL_ONLY` | `1`/`true`: S3 disabled, every upload goes to the outbox and is served from it |
| `STORAGE_MAX_ATTEMPTS` | attempts per request, botocore's retry modes (default 3) |
| `STORAGE_RETRY_MODE` | `standard` (default) or `adaptive` |
| `STORAGE_CONNECT_TIMEOUT`, `STORAGE_READ_TIMEOUT` | seconds (default 2 and 30) |
| `STORAGE_ADDRESSING_STYLE` | `virtual` (`<bucket>.<host>`), `path` or `auto` (boto3's choice, the default) |

Order of precedence: an argument to `from_env` (`bucket=...`), then the process environment,
then the `.env` file (python-dotenv never overrides an exported variable). A `.env` value that
an exported one shadows is recorded in `StorageConfig.shadowed` and logged as a warning when it
is one of the connection settings (`AWS_CA_BUNDLE`, `AWS_ENDPOINT_URL`, keys, bucket, region): a
machine exporting the system CA bundle would otherwise fail every call with a certificate
error against a `.env` written by `leadshop env --dotenv`, and the error names that conflict.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Union

TRUE = {"1", "true", "yes", "on"}

log = logging.getLogger("leadshop_storage")

# Settings whose .env value, shadowed by an exported one, points the client somewhere else.
CONNECTION_SETTINGS = ("AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                       "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_BUCKET_NAME",
                       "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE")


@dataclass
class StorageConfig:
    """What `S3Storage` needs; `from_env` fills it from the environment."""

    bucket: str
    region: str = "us-east-1"
    endpoint_url: Optional[str] = None
    ca_bundle: Optional[str] = None
    profile: Optional[str] = None
    outbox_dir: Optional[Path] = None
    local_only: bool = False
    max_attempts: int = 3
    retry_mode: str = "standard"
    connect_timeout: float = 2.0
    read_timeout: float = 30.0
    addressing_style: Optional[str] = None
    # How long a failed store is assumed down: uploads meanwhile go straight to the outbox
    # instead of waiting for retries each.
    down_cooldown: float = 5.0
    # Background delivery of the outbox, every this many seconds (0: no background thread).
    sync_interval: float = 2.0
    extra: dict = field(default_factory=dict)
    # .env values an exported variable shadowed: name -> (exported, .env).
    shadowed: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, dotenv_path: Union[str, "os.PathLike[str]", None] = None,
                 environ: Optional[Mapping[str, str]] = None, **overrides) -> "StorageConfig":
        """Reads the environment, after loading `dotenv_path` (or a `.env` found from the
        working directory) without overriding variables already set."""
        shadowed: dict = {}
        if environ is None:
            from dotenv import dotenv_values, find_dotenv, load_dotenv

            path = str(dotenv_path) if dotenv_path else find_dotenv(usecwd=True)
            if path:
                for k, v in dotenv_values(path).items():
                    if v is not None and k in os.environ and os.environ[k] != v:
                        shadowed[k] = (os.environ[k], v)
                load_dotenv(path, override=False)
            for k in CONNECTION_SETTINGS:
                if k in shadowed:
                    exported, in_file = shadowed[k]
                    shown = (lambda x: "<hidden>") if "SECRET" in k else (lambda x: x)
                    log.warning("%s is exported as %s and set to %s in %s; the exported value "
                                "wins (python-dotenv does not override): unset %s to use the "
                                "file's", k, shown(exported), shown(in_file), path, k)
            environ = os.environ
        env = environ
        bucket = overrides.pop("bucket", None) or env.get("AWS_S3_BUCKET_NAME")
        if not bucket:
            raise ValueError("AWS_S3_BUCKET_NAME is not set (environment or .env)")
        outbox = overrides.pop("outbox_dir", None) or env.get("STORAGE_OUTBOX_DIR")
        config = cls(
            bucket=bucket,
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
            endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
            ca_bundle=env.get("AWS_CA_BUNDLE") or None,
            profile=env.get("AWS_PROFILE") or None,
            outbox_dir=Path(outbox) if outbox else None,
            local_only=env.get("LOCAL_ONLY", "").strip().lower() in TRUE,
            max_attempts=int(env.get("STORAGE_MAX_ATTEMPTS", "3")),
            retry_mode=env.get("STORAGE_RETRY_MODE", "standard"),
            connect_timeout=float(env.get("STORAGE_CONNECT_TIMEOUT", "2")),
            read_timeout=float(env.get("STORAGE_READ_TIMEOUT", "30")),
            addressing_style=env.get("STORAGE_ADDRESSING_STYLE") or None,
        )
        config.shadowed = shadowed
        for k, v in overrides.items():
            if not hasattr(config, k):
                raise TypeError(f"unknown setting {k!r}")
            setattr(config, k, v)
        if config.local_only and config.outbox_dir is None:
            raise ValueError("LOCAL_ONLY needs STORAGE_OUTBOX_DIR: where the files are kept")
        if config.addressing_style not in (None, "auto", "virtual", "path"):
            raise ValueError("STORAGE_ADDRESSING_STYLE must be virtual, path or auto, not "
                             f"{config.addressing_style!r}")
        if config.retry_mode not in ("standard", "adaptive", "legacy"):
            raise ValueError(f"STORAGE_RETRY_MODE must be standard or adaptive, not {config.retry_mode!r}")
        return config
