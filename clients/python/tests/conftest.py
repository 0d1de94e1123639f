"""Fixtures: a real `leadshop serve` (port 0) per module, and storage clients against it."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "acceptance"))

from leadshop_proc import Leadshop  # noqa: E402

from leadshop_storage import S3Storage, StorageConfig  # noqa: E402


def config_for(env: dict, **overrides) -> StorageConfig:
    """The client settings `leadshop env` exports, read the way an application reads them."""
    return StorageConfig.from_env(environ=env, **overrides)


def storage_for(env: dict, **overrides) -> S3Storage:
    """A client with exactly the credentials of `env` (never the machine's AWS profile)."""
    import boto3

    session = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                    region_name=env["AWS_DEFAULT_REGION"])
    return S3Storage(config_for(env, **overrides), session=session)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Leadshop(tmp_path_factory.mktemp("leadshop") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin_env(server):
    return server.env("admin")


@pytest.fixture(scope="module")
def app_env(server):
    return server.env("app")


@pytest.fixture
def storage(app_env):
    """The application's client: the app key, under exactly config/iam/app-policy.json (the
    policy iam.tf gives the application's role on AWS), so a call the package makes that the
    policy does not allow fails here as it would in production."""
    s = storage_for(app_env, sync_interval=0)
    yield s
    s.close()


def make_file(path: Path, size: int, seed: int = 1) -> Path:
    """A file of `size` pseudo-random bytes."""
    import random

    rnd = random.Random(seed)
    path.write_bytes(rnd.randbytes(size))
    return path
