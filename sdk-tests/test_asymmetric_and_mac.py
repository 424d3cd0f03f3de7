"""Asymmetric and HMAC keys through the official SDK against `kms serve`: sign / verify
(validate_signature) with signatures the OpenSSL CLI checks against show_public_key's
key, RSA-OAEP encrypt-data that OpenSSL's ciphertexts also decrypt through, HMAC with
generate_mac / verify_mac, and the refusals of keys used for what they are not for."""

from __future__ import annotations

import base64
import hashlib

import pytest
from huaweicloudsdkkms.v2.model import (
    DecryptDataRequest,
    DecryptDataRequestBody,
    EncryptDataRequest,
    EncryptDataRequestBody,
    GenerateMacRequest,
    GenerateMacRequestBody,
    OperateKeyRequestBody,
    ShowPublicKeyRequest,
    SignRequest,
    SignRequestBody,
    ValidateSignatureRequest,
    VerifyMacRequest,
    VerifyMacRequestBody,
    VerifyRequestBody,
)

from openssl_cli import openssl, public_key_pem
from test_operations import create_key, describe, refused


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def public_pem(client, key_id: str) -> str:
    shown = client.show_public_key(ShowPublicKeyRequest(body=OperateKeyRequestBody(key_id=key_id)))
    assert shown.key_id == key_id
    return public_key_pem(shown.public_key)


def sign(client, key_id, message: bytes, algorithm, message_type="RAW") -> bytes:
    body = SignRequestBody(key_id=key_id, message=b64(message), signing_algorithm=algorithm,
                           message_type=message_type)
    return base64.b64decode(client.sign(SignRequest(body=body)).signature)


def verify(client, key_id, message: bytes, signature: bytes, algorithm, message_type="RAW") -> str:
    body = VerifyRequestBody(key_id=key_id, message=b64(message), signature=b64(signature),
                             signing_algorithm=algorithm, message_type=message_type)
    return client.validate_signature(ValidateSignatureRequest(body=body)).signature_valid


@pytest.mark.parametrize(
    "key_spec,algorithm,dgst",
    [
        ("EC_P256", "ECDSA_SHA_256", ["dgst", "-sha256"]),
        ("SECP256K1", "ECDSA_SHA_256", ["dgst", "-sha256"]),
        ("RSA_2048", "RSASSA_PSS_SHA_256",
         ["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384", ["dgst", "-sha384"]),
        ("SM2", "SM2DSA_SM3", None),
    ],
)
def test_signatures_verify_with_openssl_and_a_flipped_bit_is_false(kms, tmp_path, key_spec, algorithm, dgst):
    key_id = create_key(kms, key_spec, key_usage="SIGN_VERIFY")
    assert describe(kms, key_id).key_usage == "SIGN_VERIFY"
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(kms.client, key_id))
    message = b"signed through the SDK"
    (tmp_path / "message").write_bytes(message)
    signature = sign(kms.client, key_id, message, algorithm)
    (tmp_path / "signature").write_bytes(signature)
    if dgst is None:
        args = ["pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin", "-digest", "sm3",
                "-pkeyopt", "distid:1234567812345678", "-in", str(tmp_path / "message"),
                "-sigfile", str(tmp_path / "signature")]
    else:
        args = [*dgst, "-verify", str(pem), "-signature", str(tmp_path / "signature"),
                str(tmp_path / "message")]
    assert b"Verified" in openssl(args)
    assert verify(kms.client, key_id, message, signature, algorithm) == "true"
    flipped = bytes([signature[0], signature[1] ^ 0x10, *signature[2:]])
    assert verify(kms.client, key_id, message, flipped, algorithm) == "false"
    if algorithm != "SM2DSA_SM3":
        name = {"ECDSA_SHA_256": "sha256", "RSASSA_PSS_SHA_256": "sha256"}.get(algorithm, "sha384")
        digest = hashlib.new(name, message).digest()
        by_digest = sign(kms.client, key_id, digest, algorithm, "DIGEST")
        assert verify(kms.client, key_id, message, by_digest, algorithm) == "true"
        refused(lambda: sign(kms.client, key_id, digest[:20], algorithm, "DIGEST"), 400, "KMS.0329")


def test_rsa_oaep_encrypt_data_round_trips_and_opens_openssls_ciphertext(kms, tmp_path):
    key_id = create_key(kms, "RSA_3072", key_usage="ENCRYPT_DECRYPT")
    encrypted = kms.client.encrypt_data(EncryptDataRequest(body=EncryptDataRequestBody(
        key_id=key_id, plain_text="a small secret", encryption_algorithm="RSAES_OAEP_SHA_256")))
    decrypted = kms.client.decrypt_data(DecryptDataRequest(body=DecryptDataRequestBody(
        key_id=key_id, cipher_text=encrypted.cipher_text, encryption_algorithm="RSAES_OAEP_SHA_256")))
    assert decrypted.plain_text == "a small secret"
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(kms.client, key_id))
    ciphertext = openssl(["pkeyutl", "-encrypt", "-pubin", "-inkey", str(pem),
                          "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                          "-pkeyopt", "rsa_mgf1_md:sha256"], b"from openssl")
    decrypted = kms.client.decrypt_data(DecryptDataRequest(body=DecryptDataRequestBody(
        key_id=key_id, cipher_text=b64(ciphertext), encryption_algorithm="RSAES_OAEP_SHA_256")))
    assert base64.b64decode(decrypted.plain_text_base64) == b"from openssl"
    refused(lambda: kms.client.encrypt_data(EncryptDataRequest(body=EncryptDataRequestBody(
        key_id=key_id, plain_text="x" * 319, encryption_algorithm="RSAES_OAEP_SHA_256"))), 400, "KMS.2108")
    refused(lambda: sign(kms.client, key_id, b"m", "RSASSA_PSS_SHA_256"), 400, "KMS.0334")


def test_hmac_keys_generate_and_verify_macs(kms):
    key_id = create_key(kms, "HMAC_SM3")
    assert describe(kms, key_id).key_usage == "GENERATE_VERIFY_MAC"
    message = b64(b"a message to authenticate")
    generated = kms.client.generate_mac(GenerateMacRequest(body=GenerateMacRequestBody(
        key_id=key_id, mac_algorithm="HMAC_SM3", message=message)))
    assert generated.mac_algorithm == "HMAC_SM3" and len(base64.b64decode(generated.mac)) == 32

    def check(mac: str) -> bool:
        return kms.client.verify_mac(VerifyMacRequest(body=VerifyMacRequestBody(
            key_id=key_id, mac_algorithm="HMAC_SM3", message=message, mac=mac))).mac_valid

    assert check(generated.mac) is True
    assert check(b64(bytes(32))) is False
    refused(lambda: kms.client.generate_mac(GenerateMacRequest(body=GenerateMacRequestBody(
        key_id=create_key(kms), mac_algorithm="HMAC_SM3", message=message))), 400, "KMS.0331")
    refused(lambda: sign(kms.client, key_id, b"m", "SM2DSA_SM3"), 400, "KMS.0341")
