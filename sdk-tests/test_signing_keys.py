"""SDK-SM2-SM3 and SDK-ECDSA-P256-SHA256 sign with a key derived from the AK/SK. The Python
SDK hashes SM2's Z_A over minimal-length integers, so for about one AK/SK in 128 (a public
key coordinate with a leading zero byte) it disagrees with standard SM2 (http-api.md): the
server must accept it all the same. These access keys were picked for that property,
which the test first checks with the SDK's own derivation."""

from __future__ import annotations

import os

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm
from huaweicloudsdkcore.signer.signer import SM2SM3Signer
from huaweicloudsdkkms.v2.model import (
    CreateKeyRequest,
    CreateKeyRequestBody,
    DecryptDatakeyRequest,
    DecryptDatakeyRequestBody,
    EncryptDatakeyRequest,
    EncryptDatakeyRequestBody,
)

from deployments import Servers
from dek_digest import dek_digest
from kms_serve import AccessKey, write_credentials
from sdk_client import SCHEMES, Wire, kms_client

PROJECT = "5d0c2f9a8e7b4c1d9f3a6b2e4c8d0a17"
DOMAIN = "9b1e4d7c2a5f8e3b6d0c9a2f5e8b1d4c"

# (AK, SK, which coordinate of the derived SM2 public key has a leading zero byte)
LEADING_ZERO_KEYS = [
    ("SM2ZAX0LEADINGZERO01", "81384c36c84dce57825aca0c35c5b24c6a1c8764", 0),
    ("SM2ZAY0LEADINGZERO01", "e16bf73ea64570d4f17ed50636be3c16612d4367", 1),
]


@pytest.fixture(scope="module")
def quirk_server(kms_bin, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sm2-za")
    credentials = workdir / "credentials.toml"
    keys = [AccessKey(ak, sk, DOMAIN, PROJECT) for ak, sk, _ in LEADING_ZERO_KEYS]
    write_credentials(credentials, keys, [])
    started = Servers(kms_bin, tmp_path_factory)
    yield started.start(credentials=credentials), keys
    started.stop_all()


@pytest.mark.parametrize(("ak", "sk", "coordinate"), LEADING_ZERO_KEYS, ids=["x", "y"])
def test_the_derived_sm2_key_has_a_leading_zero_coordinate(ak, sk, coordinate):
    point = SM2SM3Signer(BasicCredentials(ak, sk, PROJECT)).get_signing_key()._public_key
    assert point[coordinate] < 1 << 248
    assert point[1 - coordinate] >= 1 << 248


@pytest.mark.parametrize(
    "algorithm",
    [SigningAlgorithm.SM2_SM3, SigningAlgorithm.ECDSA_P256_SHA256],
    ids=lambda a: SCHEMES[a],
)
@pytest.mark.parametrize("index", range(len(LEADING_ZERO_KEYS)), ids=["x", "y"])
def test_derived_key_signatures_are_accepted(quirk_server, algorithm, index):
    server, keys = quirk_server
    wire = Wire()
    client = kms_client(server.url, keys[index], signing_algorithm=algorithm, wire=wire)
    # Several requests, each with its own random signature nonce.
    key_id = client.create_key(
        CreateKeyRequest(body=CreateKeyRequestBody(key_alias=f"sdk-tests/za-{os.urandom(6).hex()}"))
    ).key_info.key_id
    for _ in range(5):
        dek = os.urandom(32)
        sealed = client.encrypt_datakey(
            EncryptDatakeyRequest(
                body=EncryptDatakeyRequestBody(
                    key_id=key_id,
                    plain_text=(dek + dek_digest("AES_256", dek)).hex(),
                    datakey_plain_length="32",
                )
            )
        )
        opened = client.decrypt_datakey(
            DecryptDatakeyRequest(
                body=DecryptDatakeyRequestBody(
                    key_id=key_id, cipher_text=sealed.cipher_text, datakey_cipher_length="32"
                )
            )
        )
        assert opened.data_key == dek.hex().upper()
    assert {e.authorization.split(" ", 1)[0] for e in wire.exchanges} == {SCHEMES[algorithm]}
    assert {e.status for e in wire.exchanges} == {200}
