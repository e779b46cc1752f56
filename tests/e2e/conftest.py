"""The real services of the integration tests (broker, S3 server), for browser tests too."""

from tests.integration.conftest import bootstrap_servers, bucket, s3_endpoint, topic_prefix

__all__ = ["bootstrap_servers", "bucket", "s3_endpoint", "topic_prefix"]
