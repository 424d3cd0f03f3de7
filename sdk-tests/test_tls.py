"""`kms serve --tls-cert --tls-key`: the SDK verifies the server against the CA it is
given (HttpConfig.ssl_ca_cert; the flow of test_operations runs this way too), and without
that CA it refuses the server."""

from __future__ import annotations

import pytest
from huaweicloudsdkcore.exceptions.exceptions import SslHandShakeException
from huaweicloudsdkkms.v2.model import ListKeysRequest, ListKeysRequestBody

from openssl_cli import make_ca_and_server_cert
from sdk_client import kms_client


@pytest.fixture
def tls_server(servers, tmp_path):
    ca, cert, key = make_ca_and_server_cert(tmp_path / "pki")
    return servers.start(tls=(cert, key)), ca


def test_sdk_given_the_ca_verifies_the_server(tls_server):
    server, ca = tls_server
    assert server.url.startswith("https://127.0.0.1:")
    client = kms_client(server.url, server.access_key, ca_cert=str(ca))
    listed = client.list_keys(ListKeysRequest(body=ListKeysRequestBody()))
    assert (listed.keys, listed.total) == ([], 0)


def test_sdk_without_the_ca_refuses_the_server(tls_server):
    server, _ = tls_server
    client = kms_client(server.url, server.access_key)
    with pytest.raises(SslHandShakeException):
        client.list_keys(ListKeysRequest(body=ListKeysRequestBody()))


def test_sdk_given_another_ca_refuses_the_server(tls_server, tmp_path):
    server, _ = tls_server
    other_ca, _, _ = make_ca_and_server_cert(tmp_path / "other-pki")
    client = kms_client(server.url, server.access_key, ca_cert=str(other_ca))
    with pytest.raises(SslHandShakeException):
        client.list_keys(ListKeysRequest(body=ListKeysRequestBody()))
