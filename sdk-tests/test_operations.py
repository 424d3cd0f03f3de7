"""Every operation of the engine through the official Python SDK, under each configuration
of conftest.CONFIGURATIONS (the four signing algorithms, and HTTPS): the SDK's method
names, request models and response models, against `kms serve`."""

from __future__ import annotations

import base64
import os
import re
import time

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkkms.v2 import KmsClient
from huaweicloudsdkkms.v2.model import (
    CancelKeyDeletionRequest,
    CreateDatakeyRequest,
    CreateDatakeyRequestBody,
    CreateDatakeyWithoutPlaintextRequest,
    CreateEcDatakeyPairRequest,
    CreateEcDatakeyPairRequestBody,
    CreateKeyRequest,
    CreateKeyRequestBody,
    CreateParametersForImportRequest,
    CreateRsaDatakeyPairRequest,
    CreateRandomRequest,
    CreateRsaDatakeyPairRequestBody,
    DecryptDataRequest,
    DecryptDataRequestBody,
    DecryptDatakeyRequest,
    DecryptDatakeyRequestBody,
    DeleteImportedKeyMaterialRequest,
    DeleteKeyRequest,
    DisableKeyRequest,
    EnableKeyRequest,
    EncryptDataRequest,
    EncryptDataRequestBody,
    EncryptDatakeyRequest,
    EncryptDatakeyRequestBody,
    GenRandomRequestBody,
    GetParametersForImportRequestBody,
    ImportKeyMaterialRequest,
    ImportKeyMaterialRequestBody,
    ListKeyDetailRequest,
    ListKeysRequest,
    ListKeysRequestBody,
    OperateKeyRequestBody,
    ReEncryptRequest,
    ReEncryptRequestBody,
    ScheduleKeyDeletionRequestBody,
    ShowVersionsRequest,
    UpdateKeyAliasRequest,
    UpdateKeyAliasRequestBody,
    UpdateKeyDescriptionRequest,
    UpdateKeyDescriptionRequestBody,
)

from deployments import CONFIGURATIONS, start_deployment
from kms_serve import AccessKey
from sdk_client import kms_client
from dek_digest import dek_digest
from openssl_cli import (
    b64decode,
    curve_of,
    public_key_of_private,
    rsa_bits_of,
    wrap_material,
)

KEY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UPPER_HEX = re.compile(r"^[0-9A-F]+$")
IMPORT_TOKEN = re.compile(r"^[0-9a-zA-Z+/=]{200,6144}$")
DAY_MS = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def unique_alias(prefix: str) -> str:
    return f"sdk-tests/{prefix}-{os.urandom(6).hex()}"


def create_key(kms, key_spec: str = "AES_256", **fields) -> str:
    response = kms.client.create_key(
        CreateKeyRequest(
            body=CreateKeyRequestBody(key_alias=unique_alias(key_spec.lower()), key_spec=key_spec, **fields)
        )
    )
    return response.key_info.key_id


def describe(kms, key_id: str):
    return kms.client.list_key_detail(
        ListKeyDetailRequest(body=OperateKeyRequestBody(key_id=key_id))
    ).key_info


def refused(call, status: int, error_code: str) -> ClientRequestException:
    """Runs `call`, which must raise ClientRequestException with `status` and `error_code`."""
    with pytest.raises(ClientRequestException) as caught:
        call()
    err = caught.value
    assert (err.status_code, err.error_code) == (status, error_code), str(err)
    assert err.error_msg, str(err)
    assert err.request_id, str(err)
    return err


def encrypt_datakey(kms, key_id: str, plain_text: str, length: int, aad: str | None = None):
    return kms.client.encrypt_datakey(
        EncryptDatakeyRequest(
            body=EncryptDatakeyRequestBody(
                key_id=key_id,
                plain_text=plain_text,
                datakey_plain_length=str(length),
                additional_authenticated_data=aad,
            )
        )
    )


def decrypt_datakey(kms, key_id: str, cipher_text: str, length: int, aad: str | None = None):
    return kms.client.decrypt_datakey(
        DecryptDatakeyRequest(
            body=DecryptDatakeyRequestBody(
                key_id=key_id,
                cipher_text=cipher_text,
                datakey_cipher_length=str(length),
                additional_authenticated_data=aad,
            )
        )
    )


def assert_decrypts_to(kms, key_id: str, cmk_spec: str, cipher_text: str, dek: bytes, aad=None):
    opened = decrypt_datakey(kms, key_id, cipher_text, len(dek), aad)
    assert opened.data_key == dek.hex().upper()
    assert opened.datakey_length == str(len(dek))
    assert opened.datakey_dgst == dek_digest(cmk_spec, dek).hex().upper()


def round_trip(kms, key_id: str, cmk_spec: str, dek: bytes, aad: str | None = None) -> str:
    """encrypt-datakey of `dek` then decrypt-datakey; returns the cipher_text."""
    plain_text = (dek + dek_digest(cmk_spec, dek)).hex().upper()
    sealed = encrypt_datakey(kms, key_id, plain_text, len(dek), aad)
    assert sealed.key_id == key_id
    assert sealed.datakey_length == str(len(dek))
    assert UPPER_HEX.match(sealed.cipher_text), sealed.cipher_text
    assert_decrypts_to(kms, key_id, cmk_spec, sealed.cipher_text, dek, aad)
    return sealed.cipher_text


# --- create-key, describe-key ----------------------------------------------------------


@pytest.mark.parametrize("key_spec", ["AES_256", "SM4"])
def test_create_key_then_describe_key(kms, key_spec):
    alias = unique_alias(key_spec.lower())
    before = now_ms()
    created = kms.client.create_key(
        CreateKeyRequest(
            body=CreateKeyRequestBody(
                key_alias=alias, key_spec=key_spec, key_description="made by the SDK tests"
            )
        )
    )
    after = now_ms()
    key_id = created.key_info.key_id
    assert KEY_ID.match(key_id), key_id
    assert created.key_info.domain_id == kms.access_key.domain_id
    assert created.key_info.region_id

    details = describe(kms, key_id)
    assert details.key_id == key_id
    assert details.domain_id == kms.access_key.domain_id
    assert details.key_alias == alias
    assert details.key_spec == key_spec
    assert details.key_usage == "ENCRYPT_DECRYPT"
    assert details.key_description == "made by the SDK tests"
    assert before - 1000 <= int(details.creation_date) <= after + 1000
    assert details.scheduled_deletion_date == ""
    assert details.key_state == "2"
    assert details.default_key_flag == "0"
    assert details.key_type == "1"
    assert details.expiration_time == ""
    assert details.origin == "kms"
    assert details.key_rotation_enabled == "false"
    assert details.sys_enterprise_project_id == "0"
    assert details.keystore_id == "0"


def test_create_key_defaults_to_aes_256(kms):
    created = kms.client.create_key(
        CreateKeyRequest(body=CreateKeyRequestBody(key_alias=unique_alias("default")))
    )
    details = describe(kms, created.key_info.key_id)
    assert (details.key_spec, details.key_usage, details.origin, details.key_state) == (
        "AES_256",
        "ENCRYPT_DECRYPT",
        "kms",
        "2",
    )


# --- data key pairs --------------------------------------------------------------------

EC_CURVES = {
    "ECC_NIST_P256": "prime256v1",
    "ECC_NIST_P384": "secp384r1",
    "ECC_NIST_P521": "secp521r1",
    "ECC_SECG_P256K1": "secp256k1",
    "SM2": "SM2",
}


@pytest.fixture(scope="module")
def pair_cmks(kms):
    """An AES_256 and an SM4 CMK for the data key pair tests."""
    return {spec: create_key(kms, spec) for spec in ("AES_256", "SM4")}


def check_pair(kms, response, key_id, cmk_spec, key_spec, aad):
    """The public key is the private key's, and decrypt-datakey of private_key_cipher_text
    with the same AAD gives back the PKCS#8 private key."""
    assert response.key_id == key_id
    assert response.key_spec == key_spec
    assert response.wrapped_private_key is None
    assert response.ciphertext_recipient is None
    public_der = b64decode(response.public_key)
    private_der = b64decode(response.private_key_plain_text)
    assert public_key_of_private(kms.workdir, private_der) == public_der
    assert UPPER_HEX.match(response.private_key_cipher_text)
    assert_decrypts_to(kms, key_id, cmk_spec, response.private_key_cipher_text, private_der, aad)
    return public_der


@pytest.mark.parametrize("cmk_spec", ["AES_256", "SM4"])
@pytest.mark.parametrize("key_spec", list(EC_CURVES))
def test_create_ec_datakey_pair(kms, pair_cmks, key_spec, cmk_spec):
    key_id = pair_cmks[cmk_spec]
    aad = f"pair/{key_spec}"
    response = kms.client.create_ec_datakey_pair(
        CreateEcDatakeyPairRequest(
            body=CreateEcDatakeyPairRequestBody(
                key_id=key_id, key_spec=key_spec, with_plain_text=True,
                additional_authenticated_data=aad,
            )
        )
    )  # fmt: skip
    public_der = check_pair(kms, response, key_id, cmk_spec, key_spec, aad)
    assert curve_of(kms.workdir, public_der) == EC_CURVES[key_spec]


def test_create_ec_datakey_pair_without_plain_text(kms, pair_cmks):
    key_id = pair_cmks["AES_256"]
    response = kms.client.create_ec_datakey_pair(
        CreateEcDatakeyPairRequest(
            body=CreateEcDatakeyPairRequestBody(
                key_id=key_id, key_spec="ECC_NIST_P256", with_plain_text=False
            )
        )
    )
    assert response.key_id == key_id
    assert response.key_spec == "ECC_NIST_P256"
    assert response.private_key_plain_text is None
    public_der = b64decode(response.public_key)
    assert curve_of(kms.workdir, public_der) == "prime256v1"
    # The sealed private key opens to a P-256 key whose public half is public_key. Its
    # length is the blob's (README "Formats": 54 header bytes, the DEK, a 16-byte tag).
    sealed = response.private_key_cipher_text
    length = len(sealed) // 2 - 54 - 16
    opened = decrypt_datakey(kms, key_id, sealed, length)
    private_der = bytes.fromhex(opened.data_key)
    assert public_key_of_private(kms.workdir, private_der) == public_der


RSA_SPECS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}


@pytest.mark.parametrize("key_spec", list(RSA_SPECS))
def test_create_rsa_datakey_pair(kms, pair_cmks, key_spec):
    key_id = pair_cmks["AES_256"]
    aad = f"pair/{key_spec}"
    response = kms.client.create_rsa_datakey_pair(
        CreateRsaDatakeyPairRequest(
            body=CreateRsaDatakeyPairRequestBody(
                key_id=key_id, key_spec=key_spec, with_plain_text=True,
                additional_authenticated_data=aad,
            )
        )
    )  # fmt: skip
    public_der = check_pair(kms, response, key_id, "AES_256", key_spec, aad)
    assert rsa_bits_of(kms.workdir, public_der) == RSA_SPECS[key_spec]


# --- data keys -------------------------------------------------------------------------


@pytest.mark.parametrize(("key_spec", "length"), [("AES_256", 32), ("AES_128", 16)])
def test_create_datakey_with_key_spec(kms, pair_cmks, key_spec, length):
    key_id = pair_cmks["AES_256"]
    response = kms.client.create_datakey(
        CreateDatakeyRequest(
            body=CreateDatakeyRequestBody(
                key_id=key_id, key_spec=key_spec, additional_authenticated_data="dk"
            )
        )
    )
    assert response.key_id == key_id
    assert UPPER_HEX.match(response.plain_text)
    dek = bytes.fromhex(response.plain_text)
    assert len(dek) == length
    assert_decrypts_to(kms, key_id, "AES_256", response.cipher_text, dek, "dk")


@pytest.mark.parametrize("cmk_spec", ["AES_256", "SM4"])
def test_create_datakey_with_datakey_length(kms, pair_cmks, cmk_spec):
    key_id = pair_cmks[cmk_spec]
    response = kms.client.create_datakey(
        CreateDatakeyRequest(body=CreateDatakeyRequestBody(key_id=key_id, datakey_length="512"))
    )
    assert response.key_id == key_id
    assert UPPER_HEX.match(response.plain_text)
    dek = bytes.fromhex(response.plain_text)
    assert len(dek) == 64
    assert_decrypts_to(kms, key_id, cmk_spec, response.cipher_text, dek)


@pytest.mark.parametrize(
    ("fields", "length"),
    [({"key_spec": "AES_256"}, 32), ({"key_spec": "AES_128"}, 16), ({"datakey_length": "192"}, 24)],
)
def test_create_datakey_without_plaintext(kms, pair_cmks, fields, length):
    key_id = pair_cmks["AES_256"]
    response = kms.client.create_datakey_without_plaintext(
        CreateDatakeyWithoutPlaintextRequest(
            body=CreateDatakeyRequestBody(key_id=key_id, additional_authenticated_data="np", **fields)
        )
    )
    assert response.key_id == key_id
    assert not hasattr(response, "plain_text") or response.plain_text is None
    assert UPPER_HEX.match(response.cipher_text)
    opened = decrypt_datakey(kms, key_id, response.cipher_text, length, "np")
    dek = bytes.fromhex(opened.data_key)
    assert len(dek) == length
    assert opened.datakey_length == str(length)
    assert opened.datakey_dgst == dek_digest("AES_256", dek).hex().upper()


@pytest.mark.parametrize("case", ["upper", "lower"])
@pytest.mark.parametrize("cmk_spec", ["AES_256", "SM4"])
def test_encrypt_datakey_then_decrypt_datakey(kms, pair_cmks, cmk_spec, case):
    key_id = pair_cmks[cmk_spec]
    dek = os.urandom(32)
    hex_text = (dek + dek_digest(cmk_spec, dek)).hex()
    plain_text = hex_text.upper() if case == "upper" else hex_text.lower()
    sealed = encrypt_datakey(kms, key_id, plain_text, 32, "order-42")
    assert sealed.key_id == key_id
    assert sealed.datakey_length == "32"
    assert UPPER_HEX.match(sealed.cipher_text)
    assert_decrypts_to(kms, key_id, cmk_spec, sealed.cipher_text, dek, "order-42")
    # Hex is read in either case.
    assert_decrypts_to(kms, key_id, cmk_spec, sealed.cipher_text.lower(), dek, "order-42")
    # Another AAD does not open it.
    refused(lambda: decrypt_datakey(kms, key_id, sealed.cipher_text, 32, "order-43"), 400, "KMS.2201")


@pytest.mark.parametrize("length", [1, 64, 1024])
def test_encrypt_datakey_lengths(kms, pair_cmks, length):
    round_trip(kms, pair_cmks["AES_256"], "AES_256", os.urandom(length))


# --- import ----------------------------------------------------------------------------

IMPORTS = [
    ("RSAES_OAEP_SHA_256", "AES_256"),
    ("SM2_ENCRYPT", "AES_256"),
    ("SM2_ENCRYPT", "SM4"),
]


def get_parameters(kms, key_id: str, wrapping_algorithm: str):
    before = int(time.time())
    params = kms.client.create_parameters_for_import(
        CreateParametersForImportRequest(
            body=GetParametersForImportRequestBody(
                key_id=key_id, wrapping_algorithm=wrapping_algorithm
            )
        )
    )
    after = int(time.time())
    assert params.key_id == key_id
    assert IMPORT_TOKEN.match(params.import_token), params.import_token
    assert len(params.import_token) == 208
    assert isinstance(params.expiration_time, int)
    assert before + 86_400 - 2 <= params.expiration_time <= after + 86_400 + 2
    spki = b64decode(params.public_key)
    if wrapping_algorithm == "SM2_ENCRYPT":
        assert curve_of(kms.workdir, spki) == "SM2"
    else:
        assert rsa_bits_of(kms.workdir, spki) == 2048
    return params


def import_material(kms, key_id, wrapping_algorithm, material, expiration_time=None):
    params = get_parameters(kms, key_id, wrapping_algorithm)
    wrapped = wrap_material(kms.workdir, wrapping_algorithm, params.public_key, material)
    return kms.client.import_key_material(
        ImportKeyMaterialRequest(
            body=ImportKeyMaterialRequestBody(
                key_id=key_id,
                import_token=params.import_token,
                encrypted_key_material=base64.b64encode(wrapped).decode(),
                expiration_time=expiration_time,
            )
        )
    )


@pytest.mark.parametrize(("wrapping_algorithm", "cmk_spec"), IMPORTS)
def test_import_key_material_wrapped_by_openssl(kms, wrapping_algorithm, cmk_spec):
    key_id = create_key(kms, cmk_spec, origin="external")
    details = describe(kms, key_id)
    assert (details.key_state, details.origin, details.key_spec) == ("5", "external", cmk_spec)
    refused(lambda: round_trip(kms, key_id, cmk_spec, os.urandom(32)), 400, "KMS.1301")

    material = os.urandom(32 if cmk_spec == "AES_256" else 16)
    expires = int(time.time()) + 3600
    import_material(kms, key_id, wrapping_algorithm, material, expiration_time=expires)
    details = describe(kms, key_id)
    assert (details.key_state, details.origin) == ("2", "external")
    assert details.expiration_time == str(expires * 1000)
    dek = os.urandom(32)
    cipher_text = round_trip(kms, key_id, cmk_spec, dek, "byok")

    # delete-imported-key-material: back to pending import; only the same material comes back.
    kms.client.delete_imported_key_material(
        DeleteImportedKeyMaterialRequest(body=OperateKeyRequestBody(key_id=key_id))
    )
    assert describe(kms, key_id).key_state == "5"
    refused(lambda: decrypt_datakey(kms, key_id, cipher_text, 32, "byok"), 400, "KMS.1301")
    other = os.urandom(len(material))
    refused(lambda: import_material(kms, key_id, wrapping_algorithm, other), 400, "KMS.2606")
    assert describe(kms, key_id).key_state == "5"
    import_material(kms, key_id, wrapping_algorithm, material)
    details = describe(kms, key_id)
    assert details.key_state == "2"
    assert details.expiration_time == ""
    assert_decrypts_to(kms, key_id, cmk_spec, cipher_text, dek, "byok")


def test_import_token_allows_one_unwrap_attempt(kms):
    key_id = create_key(kms, "AES_256", origin="external")
    params = get_parameters(kms, key_id, "RSAES_OAEP_SHA_256")

    def attempt(material: bytes):
        wrapped = wrap_material(kms.workdir, "RSAES_OAEP_SHA_256", params.public_key, material)
        body = ImportKeyMaterialRequestBody(
            key_id=key_id,
            import_token=params.import_token,
            encrypted_key_material=base64.b64encode(wrapped).decode(),
        )
        return kms.client.import_key_material(ImportKeyMaterialRequest(body=body))

    # 31 bytes is no AES_256 material: the one unwrap error, and the token is used up.
    refused(lambda: attempt(os.urandom(31)), 400, "KMS.0311")
    refused(lambda: attempt(os.urandom(32)), 400, "KMS.2605")
    assert describe(kms, key_id).key_state == "5"
    import_material(kms, key_id, "RSAES_OAEP_SHA_256", os.urandom(32))
    assert describe(kms, key_id).key_state == "2"


# --- lifecycle -------------------------------------------------------------------------


def test_disable_enable_schedule_cancel(kms):
    key_id = create_key(kms)
    dek = os.urandom(32)
    cipher_text = round_trip(kms, key_id, "AES_256", dek)

    disabled = kms.client.disable_key(DisableKeyRequest(body=OperateKeyRequestBody(key_id=key_id)))
    assert (disabled.key_info.key_id, disabled.key_info.key_state) == (key_id, "3")
    assert describe(kms, key_id).key_state == "3"
    refused(lambda: decrypt_datakey(kms, key_id, cipher_text, 32), 400, "KMS.0209")
    refused(
        lambda: kms.client.disable_key(DisableKeyRequest(body=OperateKeyRequestBody(key_id=key_id))),
        400,
        "KMS.1301",
    )

    enabled = kms.client.enable_key(EnableKeyRequest(body=OperateKeyRequestBody(key_id=key_id)))
    assert (enabled.key_info.key_id, enabled.key_info.key_state) == (key_id, "2")
    assert_decrypts_to(kms, key_id, "AES_256", cipher_text, dek)
    refused(
        lambda: kms.client.enable_key(EnableKeyRequest(body=OperateKeyRequestBody(key_id=key_id))),
        400,
        "KMS.1201",
    )

    before = now_ms()
    scheduled = kms.client.delete_key(
        DeleteKeyRequest(body=ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="7"))
    )
    after = now_ms()
    assert (scheduled.key_id, scheduled.key_state) == (key_id, "4")
    details = describe(kms, key_id)
    assert details.key_state == "4"
    assert before + 7 * DAY_MS - 1000 <= int(details.scheduled_deletion_date) <= after + 7 * DAY_MS + 1000
    refused(lambda: decrypt_datakey(kms, key_id, cipher_text, 32), 400, "KMS.0210")
    refused(
        lambda: kms.client.delete_key(
            DeleteKeyRequest(body=ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="7"))
        ),
        400,
        "KMS.1402",
    )

    cancelled = kms.client.cancel_key_deletion(
        CancelKeyDeletionRequest(body=OperateKeyRequestBody(key_id=key_id))
    )
    assert (cancelled.key_id, cancelled.key_state) == (key_id, "3")
    details = describe(kms, key_id)
    assert details.key_state == "3"
    assert details.scheduled_deletion_date == ""
    refused(
        lambda: kms.client.cancel_key_deletion(
            CancelKeyDeletionRequest(body=OperateKeyRequestBody(key_id=key_id))
        ),
        400,
        "KMS.1501",
    )
    kms.client.enable_key(EnableKeyRequest(body=OperateKeyRequestBody(key_id=key_id)))
    assert_decrypts_to(kms, key_id, "AES_256", cipher_text, dek)


@pytest.mark.parametrize("pending_days", ["6", "1097"])
def test_schedule_key_deletion_pending_days_range(kms, pending_days):
    key_id = create_key(kms)
    refused(
        lambda: kms.client.delete_key(
            DeleteKeyRequest(
                body=ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days=pending_days)
            )
        ),
        400,
        "KMS.1401",
    )
    assert describe(kms, key_id).key_state == "2"


def test_list_keys(kms, servers, tmp_path_factory):
    """On a server of its own (same configuration), so that the project holds exactly the
    keys this test makes."""
    own = start_deployment(kms.name, servers, tmp_path_factory)
    empty = own.client.list_keys(ListKeysRequest(body=ListKeysRequestBody()))
    assert (empty.keys, empty.key_details, empty.truncated, empty.total) == ([], [], "false", 0)

    made = {}
    for spec in ("AES_256", "SM4", "AES_256", "SM4", "AES_256"):
        made[create_key(own, spec)] = spec
    disabled = next(iter(made))
    own.client.disable_key(DisableKeyRequest(body=OperateKeyRequestBody(key_id=disabled)))

    listed = own.client.list_keys(ListKeysRequest(body=ListKeysRequestBody()))
    assert sorted(listed.keys) == sorted(made)
    assert [d.key_id for d in listed.key_details] == listed.keys
    assert {d.key_id: d.key_spec for d in listed.key_details} == made
    assert {d.key_id: d.key_state for d in listed.key_details} == {
        key_id: "3" if key_id == disabled else "2" for key_id in made
    }
    assert {d.domain_id for d in listed.key_details} == {own.access_key.domain_id}
    assert listed.truncated == "false"
    assert listed.total == 5
    for d in listed.key_details:
        assert d.to_dict() == describe(own, d.key_id).to_dict()

    # Pages of two, following next_marker.
    paged, marker, pages = [], None, 0
    while True:
        page = own.client.list_keys(ListKeysRequest(body=ListKeysRequestBody(limit="2", marker=marker)))
        pages += 1
        assert page.total == 5
        assert len(page.keys) == (2 if pages < 3 else 1)
        paged += page.keys
        if page.truncated == "false":
            break
        assert page.truncated == "true"
        assert page.next_marker
        marker = page.next_marker
    assert pages == 3
    assert paged == listed.keys

    only_disabled = own.client.list_keys(ListKeysRequest(body=ListKeysRequestBody(key_state="3")))
    assert only_disabled.keys == [disabled]
    only_sm4 = own.client.list_keys(ListKeysRequest(body=ListKeysRequestBody(key_spec="SM4")))
    assert sorted(only_sm4.keys) == sorted(k for k, s in made.items() if s == "SM4")


# --- errors ----------------------------------------------------------------------------


def test_wrong_digest_is_kms_2103_with_the_servers_request_id(kms, pair_cmks):
    key_id = pair_cmks["AES_256"]
    dek = os.urandom(32)
    digest = bytearray(dek_digest("AES_256", dek))
    digest[0] ^= 1
    with pytest.raises(ClientRequestException) as caught:
        encrypt_datakey(kms, key_id, (dek + digest).hex().upper(), 32)
    err = caught.value
    sent = kms.wire.last()
    assert sent.url.endswith(f"/v1.0/{kms.access_key.project_id}/kms/encrypt-datakey")
    assert sent.status == 400
    assert sent.request_id, "the response carries no X-Request-Id"
    assert (err.status_code, err.error_code, err.request_id) == (400, "KMS.2103", sent.request_id)
    assert err.error_msg

    line = kms.server.log_line(sent.request_id)
    assert line["status"] == 400
    assert line["error_code"] == "KMS.2103"
    assert line["operation"] == "encrypt-datakey"
    assert line["key_id"] == key_id
    assert line["project"] == kms.access_key.project_id
    assert line["access_key"] == kms.access_key.ak


def test_unknown_key_is_kms_0207(kms):
    missing = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
    err = refused(lambda: describe(kms, missing), 404, "KMS.0207")
    assert err.request_id == kms.wire.last().request_id


def test_malformed_key_id_is_kms_0205(kms):
    refused(lambda: describe(kms, "not-a-key-id"), 400, "KMS.0205")


def test_a_client_without_a_project_id_is_told_to_give_one(kms):
    """Without project_id the SDK sends the literal /v1.0/%7Bproject_id%7D/... path."""
    client = (
        KmsClient.new_builder()
        .with_credentials(BasicCredentials(kms.access_key.ak, kms.access_key.sk))
        .with_endpoints([kms.server.url])
        .with_http_config(kms.client.get_http_client().config)
        .build()
    )
    with pytest.raises(ClientRequestException) as caught:
        client.list_keys(ListKeysRequest(body=ListKeysRequestBody()))
    err = caught.value
    assert err.status_code in (400, 401), str(err)
    assert "project id" in err.error_msg.lower() or "project_id" in err.error_msg.lower(), str(err)
    assert err.request_id, str(err)


def test_a_wrong_secret_key_is_refused(kms):
    """The same client but for one character of the SK: the server checks signatures of
    this algorithm, it does not just accept them."""
    sk = kms.access_key.sk
    wrong_sk = sk[:-1] + ("A" if sk[-1] != "A" else "B")
    key = AccessKey(kms.access_key.ak, wrong_sk, kms.access_key.domain_id, kms.access_key.project_id)
    algorithm, _ = CONFIGURATIONS[kms.name]
    client = kms_client(
        kms.server.url,
        key,
        signing_algorithm=algorithm,
        ca_cert=kms.client.get_http_client().config.ssl_ca_cert,
    )
    with pytest.raises(ClientRequestException) as caught:
        client.list_keys(ListKeysRequest(body=ListKeysRequestBody()))
    err = caught.value
    assert (err.status_code, err.error_code) == (401, "APIGW.0301"), str(err)
    assert err.error_msg.startswith("Incorrect IAM authentication information: "), str(err)
    assert err.request_id, str(err)
    line = kms.server.log_line(err.request_id)
    assert (line["status"], line["error_code"]) == (401, "APIGW.0301")


def test_show_versions(kms):
    """GET /, signed like every other request."""
    versions = kms.client.show_versions(ShowVersionsRequest()).versions
    assert [(v.id, v.status) for v in versions if v.id == "v1.0"] == [("v1.0", "CURRENT")]


def test_every_request_was_signed_as_configured_and_got_a_request_id(kms):
    """Runs after the others of its configuration: everything the client sent carried the
    configured Authorization scheme, and every response its own X-Request-Id, each logged
    once with the response's status."""
    assert kms.wire.exchanges
    scheme = kms.server.url.split(":", 1)[0]
    for exchange in kms.wire.exchanges:
        assert exchange.url == kms.server.url + "/" or exchange.url.startswith(
            kms.server.url + f"/v1.0/{kms.access_key.project_id}/kms/"
        ), exchange
        assert exchange.url.split(":", 1)[0] == scheme
        assert exchange.authorization.startswith(kms.scheme + " Access="), exchange
        assert exchange.request_id, exchange
    ids = [exchange.request_id for exchange in kms.wire.exchanges]
    assert len(set(ids)) == len(ids)
    kms.server.log_line(ids[-1])  # the last line is written
    logged = {line["request_id"]: line for line in kms.server.access_log()}
    for exchange in kms.wire.exchanges:
        line = logged[exchange.request_id]
        assert line["status"] == exchange.status, (exchange, line)
        if exchange.url != kms.server.url + "/":  # GET / (versions) needs no credentials
            assert line["access_key"] == kms.access_key.ak, (exchange, line)
            assert line["project"] == kms.access_key.project_id, (exchange, line)


# --- encrypt-data, decrypt-data, re-encrypt, gen-random ---------------------------------

DATA_CIPHER_TEXT = re.compile(r"^[0-9a-zA-Z+/=]{128,5648}$")


def encrypt_data(kms, key_id: str, plain_text: str, aad: str | None = None) -> str:
    response = kms.client.encrypt_data(
        EncryptDataRequest(
            body=EncryptDataRequestBody(
                key_id=key_id, plain_text=plain_text, additional_authenticated_data=aad
            )
        )
    )
    assert response.key_id == key_id
    assert DATA_CIPHER_TEXT.match(response.cipher_text), response.cipher_text
    return response.cipher_text


def decrypt_data(kms, cipher_text: str, aad: str | None = None, key_id: str | None = None):
    return kms.client.decrypt_data(
        DecryptDataRequest(
            body=DecryptDataRequestBody(
                cipher_text=cipher_text, additional_authenticated_data=aad, key_id=key_id
            )
        )
    )


@pytest.mark.parametrize("cmk_spec", ["AES_256", "SM4"])
@pytest.mark.parametrize("length", [1, 4096])
def test_encrypt_data_then_decrypt_data(kms, pair_cmks, cmk_spec, length):
    key_id = pair_cmks[cmk_spec]
    text = ("ü" * length)[: length // 2] + "a" * (length % 2)
    assert len(text.encode()) == length
    sealed = encrypt_data(kms, key_id, text, aad="ctx")
    for named in (key_id, None):
        opened = decrypt_data(kms, sealed, aad="ctx", key_id=named)
        assert opened.key_id == key_id
        assert opened.plain_text == text
        assert base64.b64decode(opened.plain_text_base64) == text.encode()
    refused(lambda: decrypt_data(kms, sealed, aad="other"), 400, "KMS.2201")
    blob = bytearray(base64.b64decode(sealed))
    blob[-1] ^= 1
    refused(
        lambda: decrypt_data(kms, base64.b64encode(bytes(blob)).decode(), aad="ctx"),
        400,
        "KMS.2201",
    )


def test_encrypt_data_refuses_4097_bytes(kms, pair_cmks):
    refused(lambda: encrypt_data(kms, pair_cmks["AES_256"], "a" * 4097), 400, "KMS.2101")


def test_re_encrypt_moves_a_datakey_blob_and_an_encrypt_data_blob_between_specs(kms, pair_cmks):
    aes, sm4 = pair_cmks["AES_256"], pair_cmks["SM4"]
    dek = os.urandom(32)
    datakey_blob = round_trip(kms, aes, "AES_256", dek, aad="from")
    data_blob = encrypt_data(kms, aes, "a small secret", aad="from")
    for cipher_text, length in ((datakey_blob, "32"), (data_blob, None)):
        moved = kms.client.re_encrypt(
            ReEncryptRequest(
                body=ReEncryptRequestBody(
                    source_key_id=aes,
                    source_additional_authenticated_data="from",
                    destination_key_id=sm4,
                    destination_additional_authenticated_data="to",
                    datakey_cipher_length=length,
                    cipher_text=cipher_text,
                )
            )
        )
        assert (moved.key_id, moved.source_key_id) == (sm4, aes)
        assert moved.source_encryption_algorithm == "SYMMETRIC_DEFAULT"
        assert moved.destination_encryption_algorithm == "SYMMETRIC_DEFAULT"
        if length:
            assert UPPER_HEX.match(moved.cipher_text)
            assert_decrypts_to(kms, sm4, "SM4", moved.cipher_text, dek, aad="to")
            refused(lambda: decrypt_datakey(kms, aes, moved.cipher_text, 32, "to"), 400, "KMS.2201")
        else:
            opened = decrypt_data(kms, moved.cipher_text, aad="to")
            assert (opened.key_id, opened.plain_text) == (sm4, "a small secret")


@pytest.mark.parametrize("bits", [8, 8192])
def test_gen_random_gives_the_bits_asked_for(kms, bits):
    response = kms.client.create_random(
        CreateRandomRequest(body=GenRandomRequestBody(random_data_length=str(bits)))
    )
    assert len(response.random_data) == bits // 4
    assert UPPER_HEX.match(response.random_data)


@pytest.mark.parametrize(("bits", "code"), [("0", "KMS.1801"), ("7", "KMS.1801"), ("8200", "KMS.1801"), ("12", "KMS.1802")])
def test_gen_random_refuses_lengths_outside_the_range(kms, bits, code):
    refused(
        lambda: kms.client.create_random(
            CreateRandomRequest(body=GenRandomRequestBody(random_data_length=bits))
        ),
        400,
        code,
    )


# --- update-key-alias, update-key-description -------------------------------------------


def test_update_key_alias_and_description(kms):
    key_id = create_key(kms)
    alias = unique_alias("renamed")
    renamed = kms.client.update_key_alias(
        UpdateKeyAliasRequest(body=UpdateKeyAliasRequestBody(key_id=key_id, key_alias=alias))
    )
    assert (renamed.key_info.key_id, renamed.key_info.key_alias) == (key_id, alias)
    described = kms.client.update_key_description(
        UpdateKeyDescriptionRequest(
            body=UpdateKeyDescriptionRequestBody(key_id=key_id, key_description="what it is for")
        )
    )
    assert described.key_info.key_description == "what it is for"
    info = describe(kms, key_id)
    assert (info.key_alias, info.key_description) == (alias, "what it is for")
    other = create_key(kms)
    refused(
        lambda: kms.client.update_key_alias(
            UpdateKeyAliasRequest(body=UpdateKeyAliasRequestBody(key_id=other, key_alias=alias))
        ),
        400,
        "KMS.1104",
    )
    refused(
        lambda: kms.client.update_key_alias(
            UpdateKeyAliasRequest(body=UpdateKeyAliasRequestBody(key_id=other, key_alias="bad alias"))
        ),
        400,
        "KMS.1101",
    )
