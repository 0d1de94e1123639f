import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from leadshop_proc import Leadshop  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Leadshop(tmp_path_factory.mktemp("leadshop") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def env(server):
    return server.env("admin")


@pytest.fixture()
def s3(env):
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    # Exactly what the environment from `leadshop env` gives boto3: endpoint and CA bundle.
    return session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])
