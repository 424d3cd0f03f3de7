"""Many requests at once, as applications send them: the SDK's async client (a thread
pool over one keep-alive session) and several sync clients on threads, with an RSA_4096
key pair being generated meanwhile. Every answer must be the right one."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkkms.v2 import KmsAsyncClient
from huaweicloudsdkkms.v2.model import (
    CreateKeyRequest,
    CreateKeyRequestBody,
    CreateRsaDatakeyPairRequest,
    CreateRsaDatakeyPairRequestBody,
    DecryptDatakeyRequest,
    DecryptDatakeyRequestBody,
    EncryptDatakeyRequest,
    EncryptDatakeyRequestBody,
)

from dek_digest import dek_digest
from sdk_client import Wire, kms_client


def encrypt_request(key_id: str, dek: bytes) -> EncryptDatakeyRequest:
    return EncryptDatakeyRequest(
        body=EncryptDatakeyRequestBody(
            key_id=key_id,
            plain_text=(dek + dek_digest("AES_256", dek)).hex(),
            datakey_plain_length=str(len(dek)),
            additional_authenticated_data=dek[:4].hex(),
        )
    )


def decrypt_request(key_id: str, cipher_text: str, dek: bytes) -> DecryptDatakeyRequest:
    return DecryptDatakeyRequest(
        body=DecryptDatakeyRequestBody(
            key_id=key_id,
            cipher_text=cipher_text,
            datakey_cipher_length=str(len(dek)),
            additional_authenticated_data=dek[:4].hex(),
        )
    )


def new_key(client) -> str:
    body = CreateKeyRequestBody(key_alias=f"sdk-tests/concurrent-{os.urandom(6).hex()}")
    return client.create_key(CreateKeyRequest(body=body)).key_info.key_id


def test_async_client_requests_in_flight_together(servers):
    server = servers.start()
    key = server.access_key
    client = (
        KmsAsyncClient.new_builder()
        .with_credentials(BasicCredentials(key.ak, key.sk, key.project_id))
        .with_endpoints([server.url])
        .build()
    )
    key_id = kms_client(server.url, key).create_key(
        CreateKeyRequest(body=CreateKeyRequestBody(key_alias=f"sdk-tests/async-{os.urandom(6).hex()}"))
    ).key_info.key_id
    pair = client.create_rsa_datakey_pair_async(
        CreateRsaDatakeyPairRequest(
            body=CreateRsaDatakeyPairRequestBody(key_id=key_id, key_spec="RSA_4096", with_plain_text=True)
        )
    )
    deks = [os.urandom(32) for _ in range(64)]
    sealing = [client.encrypt_datakey_async(encrypt_request(key_id, dek)) for dek in deks]
    sealed = [future.result().cipher_text for future in sealing]
    opening = [
        client.decrypt_datakey_async(decrypt_request(key_id, cipher_text, dek))
        for cipher_text, dek in zip(sealed, deks)
    ]
    assert [future.result().data_key for future in opening] == [dek.hex().upper() for dek in deks]
    made = pair.result()
    assert (made.key_id, made.key_spec) == (key_id, "RSA_4096")
    assert made.public_key and made.private_key_plain_text and made.private_key_cipher_text


def test_clients_on_threads(servers):
    server = servers.start()

    def worker(_: int) -> list[str]:
        wire = Wire()
        client = kms_client(server.url, server.access_key, wire=wire)
        key_id = new_key(client)
        for _ in range(20):
            dek = os.urandom(48)
            cipher_text = client.encrypt_datakey(encrypt_request(key_id, dek)).cipher_text
            opened = client.decrypt_datakey(decrypt_request(key_id, cipher_text, dek))
            assert opened.data_key == dek.hex().upper()
        return [exchange.request_id for exchange in wire.exchanges]

    with ThreadPoolExecutor(max_workers=8) as pool:
        request_ids = [rid for ids in pool.map(worker, range(8)) for rid in ids]
    assert len(request_ids) == 8 * 41
    assert len(set(request_ids)) == len(request_ids)
    logged = server.log_lines(request_ids)
    assert {line["status"] for line in logged.values()} == {200}
