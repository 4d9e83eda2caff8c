"""TLS to PostgreSQL in AWS verifies the server: sslmode=verify-full against the RDS CA bundle that
ships in the layer (template.yaml: CoursegenLayer, ContentUri shared/). Locally (DATABASE_URL, the
embedded pgserver) nothing changes."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from cryptography import x509
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from coursegen.bootstrap import _conninfo_from_secret
from coursegen.config import Settings
from coursegen_local.template import PROJECT_ROOT, SamTemplate


@pytest.fixture
def aws_mode_conninfo(monkeypatch) -> dict:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Powertools keeps one SecretsProvider (with its boto3 client) per process: this test's, made
    # inside its mock, must not outlive it (a later test would read secrets through it).
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    DEFAULT_PROVIDERS.pop("secrets", None)
    try:
        with mock_aws():
            arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
                Name="coursegen-tls-test", SecretString=json.dumps({"username": "coursegen", "password": "p"}))["ARN"]
            settings = Settings(db_secret_arn=arn, db_host="db.cluster-abc.us-east-1.rds.amazonaws.com")
            return conninfo_to_dict(_conninfo_from_secret(settings))
    finally:
        DEFAULT_PROVIDERS.pop("secrets", None)


def test_the_aws_connection_verifies_the_server_with_the_rds_ca_bundle(aws_mode_conninfo):
    assert aws_mode_conninfo["sslmode"] == "verify-full"
    assert aws_mode_conninfo["host"] == "db.cluster-abc.us-east-1.rds.amazonaws.com"
    bundle = Path(aws_mode_conninfo["sslrootcert"])
    layer = PROJECT_ROOT / SamTemplate().resources["CoursegenLayer"]["Properties"]["ContentUri"]
    assert bundle.is_file() and bundle.resolve().is_relative_to(layer.resolve()), bundle  # sam build copies it
    certificates = x509.load_pem_x509_certificates(bundle.read_bytes())
    now = datetime.now(timezone.utc)
    valid = {c.subject.rfc4514_string() for c in certificates if c.not_valid_after_utc > now}
    # Aurora's default server CA in this stack's Region, still valid
    assert any("CN=Amazon RDS us-east-1 Root CA RSA2048 G1" in subject for subject in valid)


def test_the_bundle_is_packaged_with_the_coursegen_package():
    import tomllib

    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["coursegen"]
    assert "adapters/postgres/rds-global-bundle.pem" in data

