"""Secrets never reach the server's output: a run that carries known DEKs (in
encrypt-datakey requests and in create-datakey / decrypt-datakey / data key pair
responses), import material and its wrapping, an X-Auth-Token, the access key's SK and, on
PKCS#11, the token PINs, then a grep of everything `kms serve` wrote (the access log on
standard output, human messages on standard error) and of /metrics for each of them: hex
in both cases, base64, the raw bytes, and a 12-byte prefix of each."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkkms.v2.model import (
    CreateDatakeyRequest,
    CreateDatakeyRequestBody,
    CreateEcDatakeyPairRequest,
    CreateEcDatakeyPairRequestBody,
    CreateKeyRequest,
    CreateKeyRequestBody,
    CreateParametersForImportRequest,
    CreateRsaDatakeyPairRequest,
    CreateRsaDatakeyPairRequestBody,
    DecryptDatakeyRequest,
    DecryptDatakeyRequestBody,
    EncryptDatakeyRequest,
    EncryptDatakeyRequestBody,
    GetParametersForImportRequestBody,
    ImportKeyMaterialRequest,
    ImportKeyMaterialRequestBody,
    ListKeyDetailRequest,
    OperateKeyRequestBody,
)

from dek_digest import dek_digest
from kms_serve import AccessKey, write_credentials
from openssl_cli import wrap_material
from sdk_client import Wire, kms_client

LOG_FIELDS = {
    "time", "request_id", "project", "access_key", "operation", "key_id", "status",
    "error_code", "latency_ms",
}  # fmt: skip
SOFTHSM_MODULE = os.environ.get("KMS_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")


@dataclass
class Secrets:
    """Everything that must not appear, by name."""

    binary: dict[str, bytes] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)

    def needles(self) -> dict[str, bytes]:
        found = {}
        for name, value in self.binary.items():
            assert len(value) >= 16, name
            for part, data in (("", value), (" (first 12 bytes)", value[:12])):
                found[f"{name}{part} as upper-case hex"] = data.hex().upper().encode()
                found[f"{name}{part} as lower-case hex"] = data.hex().encode()
                found[f"{name}{part} as base64"] = base64.b64encode(data).rstrip(b"=")
                found[f"{name}{part} as base64url"] = base64.urlsafe_b64encode(data).rstrip(b"=")
            found[f"{name} as raw bytes"] = value
        for name, value in self.text.items():
            assert len(value) >= 8, name
            found[name] = value.encode()
        return found


@dataclass
class Backend:
    name: str
    args: list[str]
    env: dict[str, str]
    cmk_specs: list[str]
    wrapping_algorithm: str
    rsa_pairs: bool
    secrets: dict[str, str]


def softhsm_token(workdir: Path) -> Backend:
    """A SoftHSM2 token of this test's own, its PINs random."""
    assert os.path.exists(SOFTHSM_MODULE), (
        f"SoftHSM2 is required ({SOFTHSM_MODULE}; apt-get install softhsm2, or set KMS_PKCS11_MODULE)"
    )
    (workdir / "tokens").mkdir(parents=True)
    conf = workdir / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {workdir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    pin, so_pin = secrets.token_hex(12), secrets.token_hex(12)
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "sdk-log-test",
         "--so-pin", so_pin, "--pin", pin],
        env={**os.environ, **env}, check=True, capture_output=True,
    )  # fmt: skip
    pin_file = workdir / "pin"
    fd = os.open(pin_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(pin)
    return Backend(
        name="pkcs11",
        args=["--backend", "pkcs11", "--pkcs11-module", SOFTHSM_MODULE,
              "--pkcs11-token-label", "sdk-log-test", "--pkcs11-pin-file", str(pin_file)],
        env=env,
        # SoftHSM2 has no SM4, and OAEP with SHA-1 only.
        cmk_specs=["AES_256"],
        wrapping_algorithm="RSAES_OAEP_SHA_1",
        rsa_pairs=False,  # RSA data key pairs are not offered on PKCS#11 (KMS.9002)
        secrets={"the user PIN": pin, "the SO PIN": so_pin},
    )  # fmt: skip


@pytest.fixture(params=["soft", "pkcs11"])
def backend(request, tmp_path) -> Backend:
    if request.param == "soft":
        return Backend("soft", [], {}, ["AES_256", "SM4"], "RSAES_OAEP_SHA_256", True, {})
    return softhsm_token(tmp_path / "softhsm")


def test_no_secret_reaches_the_output(servers, tmp_path, backend):
    found = Secrets()
    access_key = AccessKey(
        ak="SDKLOGTEST" + secrets.token_hex(5).upper(),
        sk=secrets.token_urlsafe(30),
        domain_id=secrets.token_hex(16),
        project_id=secrets.token_hex(16),
    )
    found.text["the secret key"] = access_key.sk
    token = "sdk-tests-token-" + secrets.token_urlsafe(32)
    found.text["the X-Auth-Token"] = token
    for name, value in backend.secrets.items():
        found.text[name] = value
    credentials = tmp_path / "credentials.toml"
    write_credentials(
        credentials,
        [access_key],
        [{
            "sha256": hashlib.sha256(token.encode()).hexdigest(),
            "domain_id": access_key.domain_id,
            "projects": [access_key.project_id],
        }],
    )  # fmt: skip
    server = servers.start(credentials=credentials, backend_args=backend.args, env=backend.env)
    assert server.access_key == access_key
    wire = Wire()
    client = kms_client(server.url, access_key, wire=wire)
    requests_sent = 0  # outside the SDK

    def new_key(spec: str, **fields) -> str:
        return client.create_key(
            CreateKeyRequest(
                body=CreateKeyRequestBody(key_alias=f"log/{spec}-{os.urandom(4).hex()}", key_spec=spec, **fields)
            )
        ).key_info.key_id

    def decrypt(key_id, cipher_text, length, aad=None):
        return client.decrypt_datakey(
            DecryptDatakeyRequest(
                body=DecryptDatakeyRequestBody(
                    key_id=key_id, cipher_text=cipher_text, datakey_cipher_length=str(length),
                    additional_authenticated_data=aad,
                )
            )
        )  # fmt: skip

    def encrypt(key_id, plain_text, length, aad=None):
        return client.encrypt_datakey(
            EncryptDatakeyRequest(
                body=EncryptDatakeyRequestBody(
                    key_id=key_id, plain_text=plain_text, datakey_plain_length=str(length),
                    additional_authenticated_data=aad,
                )
            )
        )  # fmt: skip

    for spec in backend.cmk_specs:
        key_id = new_key(spec)
        # DEKs in encrypt-datakey requests (upper and lower case) and decrypt-datakey responses.
        for case in ("upper", "lower"):
            dek = os.urandom(32)
            found.binary[f"the {spec} DEK sent in {case} case"] = dek
            text = (dek + dek_digest(spec, dek)).hex()
            sealed = encrypt(key_id, text.upper() if case == "upper" else text, 32, "log-aad")
            assert decrypt(key_id, sealed.cipher_text, 32, "log-aad").data_key == dek.hex().upper()
        # DEKs the server makes.
        made = client.create_datakey(CreateDatakeyRequest(body=CreateDatakeyRequestBody(key_id=key_id, datakey_length="256")))
        found.binary[f"the {spec} DEK of create-datakey"] = bytes.fromhex(made.plain_text)
        assert decrypt(key_id, made.cipher_text, 32).data_key == made.plain_text
        # Refused DEKs: a wrong digest, a non-hex character.
        dek = os.urandom(32)
        found.binary[f"the {spec} DEK with a wrong digest"] = dek
        bad = bytearray(dek_digest(spec, dek))
        bad[-1] ^= 0x80
        with pytest.raises(ClientRequestException) as caught:
            encrypt(key_id, (dek + bad).hex(), 32)
        assert (caught.value.status_code, caught.value.error_code) == (400, "KMS.2103")
        dek = os.urandom(32)
        found.binary[f"the {spec} DEK with a non-hex character"] = dek
        with pytest.raises(ClientRequestException) as caught:
            encrypt(key_id, (dek + dek_digest(spec, dek)).hex()[:-1] + "g", 32)
        assert (caught.value.status_code, caught.value.error_code) == (400, "KMS.2101")

    # Private keys of data key pairs, in the pair's response and in decrypt-datakey's.
    key_id = new_key("AES_256")
    ec = client.create_ec_datakey_pair(
        CreateEcDatakeyPairRequest(body=CreateEcDatakeyPairRequestBody(key_id=key_id, key_spec="ECC_NIST_P256"))
    )
    ec_private = base64.b64decode(ec.private_key_plain_text)
    found.binary["the EC private key"] = ec_private
    assert bytes.fromhex(decrypt(key_id, ec.private_key_cipher_text, len(ec_private)).data_key) == ec_private
    if backend.rsa_pairs:
        rsa = client.create_rsa_datakey_pair(
            CreateRsaDatakeyPairRequest(
                body=CreateRsaDatakeyPairRequestBody(key_id=key_id, key_spec="RSA_2048", with_plain_text=True)
            )
        )
        rsa_private = base64.b64decode(rsa.private_key_plain_text)
        found.binary["the RSA private key"] = rsa_private
        opened = decrypt(key_id, rsa.private_key_cipher_text, len(rsa_private))
        assert bytes.fromhex(opened.data_key) == rsa_private

    # Import: the material, its wrapping and the import token.
    external = new_key("AES_256", origin="external")
    params = client.create_parameters_for_import(
        CreateParametersForImportRequest(
            body=GetParametersForImportRequestBody(key_id=external, wrapping_algorithm=backend.wrapping_algorithm)
        )
    )
    material = os.urandom(32)
    wrapped = wrap_material(tmp_path, backend.wrapping_algorithm, params.public_key, material)
    found.binary["the imported material"] = material
    found.binary["the wrapped material"] = wrapped
    found.text["the import token"] = params.import_token
    client.import_key_material(
        ImportKeyMaterialRequest(
            body=ImportKeyMaterialRequestBody(
                key_id=external, import_token=params.import_token,
                encrypted_key_material=base64.b64encode(wrapped).decode(),
            )
        )
    )  # fmt: skip
    state = client.list_key_detail(ListKeyDetailRequest(body=OperateKeyRequestBody(key_id=external)))
    assert state.key_info.key_state == "2"

    # X-Auth-Token callers, with the right token and a wrong one.
    base = f"{server.url}/v1.0/{access_key.project_id}/kms"
    headers = {"Content-Type": "application/json;charset=utf-8", "X-Auth-Token": token}
    dek = os.urandom(32)
    found.binary["the DEK sent with X-Auth-Token"] = dek
    body = {
        "key_id": key_id,
        "plain_text": (dek + dek_digest("AES_256", dek)).hex().upper(),
        "datakey_plain_length": "32",
    }
    answer = requests.post(f"{base}/encrypt-datakey", headers=headers, data=json.dumps(body), timeout=60)
    requests_sent += 1
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Request-Id"]
    cipher_text = answer.json()["cipher_text"]
    answer = requests.post(
        f"{base}/decrypt-datakey",
        headers=headers,
        data=json.dumps({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32"}),
        timeout=60,
    )
    requests_sent += 1
    assert answer.status_code == 200, answer.text
    assert answer.json()["data_key"] == dek.hex().upper()
    token_request_ids = [answer.headers["X-Request-Id"]]

    wrong_token = "sdk-tests-wrong-token-" + secrets.token_urlsafe(32)
    found.text["a wrong X-Auth-Token"] = wrong_token
    answer = requests.post(
        f"{base}/decrypt-datakey",
        headers={**headers, "X-Auth-Token": wrong_token},
        data=json.dumps({"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32"}),
        timeout=60,
    )
    requests_sent += 1
    assert answer.status_code == 401, answer.text
    refusal = answer.json()
    assert refusal["error_code"] == "APIGW.0301"
    assert refusal["error_msg"].startswith("Incorrect IAM authentication information: ")
    assert refusal["request_id"] == answer.headers["X-Request-Id"]

    # An SDK client with a wrong SK.
    wrong_sk = secrets.token_urlsafe(30)
    found.text["a wrong secret key"] = wrong_sk
    wrong = kms_client(server.url, AccessKey(access_key.ak, wrong_sk, access_key.domain_id, access_key.project_id))
    with pytest.raises(ClientRequestException) as caught:
        wrong.list_key_detail(ListKeyDetailRequest(body=OperateKeyRequestBody(key_id=key_id)))
    assert (caught.value.status_code, caught.value.error_code) == (401, "APIGW.0301")
    requests_sent += 1

    # One line per request, each with the documented fields.
    last_id = caught.value.request_id
    server.log_line(last_id)
    log = server.access_log()
    assert len(log) == len(wire.exchanges) + requests_sent, server.stdout()
    for line in log:
        assert LOG_FIELDS <= set(line), line
    by_id = {line["request_id"]: line for line in log}
    for exchange in wire.exchanges:
        assert by_id[exchange.request_id]["status"] == exchange.status
        assert by_id[exchange.request_id]["access_key"] == access_key.ak
    assert by_id[token_request_ids[0]]["status"] == 200
    assert by_id[token_request_ids[0]]["operation"] == "decrypt-datakey"
    assert by_id[token_request_ids[0]]["access_key"] == "token"
    assert by_id[last_id]["status"] == 401

    metrics = requests.get(f"{server.url}/metrics", timeout=60)
    assert metrics.status_code == 200, metrics.text
    assert 'operation="encrypt-datakey"' in metrics.text, metrics.text
    server.assert_stops_cleanly()

    output = server.output_bytes()
    assert access_key.ak.encode() in output  # the grep looks at the right text
    for haystack_name, haystack in (("the output of kms serve", output), ("/metrics", metrics.content)):
        leaked = [name for name, needle in found.needles().items() if needle in haystack]
        assert not leaked, f"{haystack_name} holds {', '.join(leaked)}"
