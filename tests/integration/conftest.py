"""Session services for integration tests: a real Kafka-protocol broker and S3 server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from devtools.services import kafka_broker, s3_server


@pytest.fixture(scope="session")
def bootstrap_servers() -> Iterator[str]:
    with kafka_broker() as servers:
        yield servers


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Sets boto3's own environment (endpoint, dummy credentials, region) for the session."""
    with s3_server() as endpoint:
        saved = {k: os.environ.get(k) for k in _S3_ENV}
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            }
        )
        yield endpoint
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_S3_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket for one test."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def topic_prefix() -> str:
    """A unique prefix so tests sharing the broker never see each other's topics."""
    return f"t{uuid.uuid4().hex[:8]}."
