"""Fixtures: `kms serve` processes started by the tests themselves (the binary is $KMS_BIN),
and KmsClients of the official SDK pointed at them.

Importing the SDK writes ~/.huaweicloud/application_id, so HOME is a temporary directory
before anything imports it."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SDK_HOME = tempfile.mkdtemp(prefix="kms-sdk-tests-home-")
os.environ["HOME"] = _SDK_HOME
# The tests talk to 127.0.0.1 only: never through a proxy the environment names.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
# A CA bundle from the environment would replace HttpConfig.ssl_ca_cert's default checks.
os.environ.pop("REQUESTS_CA_BUNDLE", None)
os.environ.pop("CURL_CA_BUNDLE", None)

from deployments import CONFIGURATIONS, Servers, start_deployment  # noqa: E402


def pytest_configure(config):
    kms_bin = os.environ.get("KMS_BIN")
    if not kms_bin:
        raise pytest.UsageError(
            "KMS_BIN is not set: set it to the kms binary these tests start as `kms serve` "
            "(cargo build -p kms-cli; KMS_BIN=target/debug/kms)"
        )
    if not (os.path.isfile(kms_bin) and os.access(kms_bin, os.X_OK)):
        raise pytest.UsageError(f"KMS_BIN={kms_bin} is not an executable file")
    if shutil.which("openssl") is None:
        raise pytest.UsageError("the OpenSSL CLI is required (apt-get install openssl)")


def pytest_unconfigure(config):
    shutil.rmtree(_SDK_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def kms_bin() -> str:
    return os.path.abspath(os.environ["KMS_BIN"])


@pytest.fixture
def servers(kms_bin, tmp_path_factory):
    """A factory of `kms serve` processes for one test."""
    started = Servers(kms_bin, tmp_path_factory)
    yield started
    started.stop_all()


@pytest.fixture(scope="module", params=list(CONFIGURATIONS))
def kms(request, kms_bin, tmp_path_factory):
    """`kms serve` with a fresh home and the credentials it creates, and an SDK client of
    it, once per configuration: a module's tests run under each in turn, each
    configuration's server stopped (and its exit code checked) before the next starts."""
    started = Servers(kms_bin, tmp_path_factory)
    yield start_deployment(request.param, started, tmp_path_factory)
    started.stop_all()
