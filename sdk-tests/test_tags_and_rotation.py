"""Tags and key rotation through the official SDK against `kms serve`: the per-key tag
routes and the project's tag list (created, listed, deleted; the 11th tag and bad
characters refused; another project's key refused), and rotation (on demand, its status
with every material, old blobs still opening)."""

from __future__ import annotations

import secrets

import pytest
from huaweicloudsdkkms.v2.model import (
    BatchCreateKmsTagsRequest,
    BatchCreateKmsTagsRequestBody,
    CreateKmsTagRequest,
    CreateKmsTagRequestBody,
    DeleteTagRequest,
    DisableKeyRotationRequest,
    EnableKeyRotationRequest,
    ListKmsTagsRequest,
    OperateKeyRequestBody,
    RotateOnDemandRequest,
    RotateOnDemandRequestBody,
    ShowKeyRotationStatusRequest,
    ShowKmsTagsRequest,
    TagItem,
    UpdateKeyRotationIntervalRequest,
    UpdateKeyRotationIntervalRequestBody,
)

from kms_serve import AccessKey, write_credentials
from sdk_client import kms_client
from test_operations import assert_decrypts_to, create_key, describe, refused, round_trip


def add_tag(client, key_id: str, key: str, value: str):
    return client.create_kms_tag(
        CreateKmsTagRequest(key_id=key_id, body=CreateKmsTagRequestBody(tag=TagItem(key=key, value=value)))
    )


def key_tags(client, key_id: str) -> list[tuple[str, str]]:
    shown = client.show_kms_tags(ShowKmsTagsRequest(key_id=key_id))
    assert shown.exist_tags_num == len(shown.tags)
    return [(tag.key, tag.value) for tag in shown.tags]


def project_tags(client) -> dict[str, list[str]]:
    return {tag.key: tag.values for tag in client.list_kms_tags(ListKmsTagsRequest()).tags}


def test_tags_are_created_listed_and_deleted(kms):
    key_id = create_key(kms)
    add_tag(kms.client, key_id, "env", "prod")
    add_tag(kms.client, key_id, "环境", "测试")
    add_tag(kms.client, key_id, "env", "staging")  # replaces the value
    assert key_tags(kms.client, key_id) == [("env", "staging"), ("环境", "测试")]
    kms.client.batch_create_kms_tags(
        BatchCreateKmsTagsRequest(
            key_id=key_id,
            body=BatchCreateKmsTagsRequestBody(
                tags=[TagItem(key="team", value="payments"), TagItem(key="cost center", value="")],
                action="create",
            ),
        )
    )
    assert len(key_tags(kms.client, key_id)) == 4
    listed = project_tags(kms.client)
    assert "staging" in listed["env"] and listed["cost center"] == [""]
    kms.client.delete_tag(DeleteTagRequest(key_id=key_id, key="环境"))
    kms.client.batch_create_kms_tags(
        BatchCreateKmsTagsRequest(
            key_id=key_id,
            body=BatchCreateKmsTagsRequestBody(tags=[TagItem(key="team", value="")], action="delete"),
        )
    )
    assert key_tags(kms.client, key_id) == [("cost center", ""), ("env", "staging")]


def test_the_eleventh_tag_and_bad_characters_are_refused_changing_nothing(kms):
    key_id = create_key(kms)
    for i in range(10):
        add_tag(kms.client, key_id, f"k{i}", "v")
    before = key_tags(kms.client, key_id)
    refused(lambda: add_tag(kms.client, key_id, "k10", "v"), 400, "KMS.0409")
    for key, value, code in [
        ("a=b", "v", "KMS.0406"),
        ("a*", "v", "KMS.0406"),
        ("k" * 37, "v", "KMS.0411"),
        ("k0", "<b>", "KMS.0405"),
        ("k0", "v" * 44, "KMS.0410"),
    ]:
        refused(lambda: add_tag(kms.client, key_id, key, value), 400, code)
    refused(
        lambda: kms.client.batch_create_kms_tags(
            BatchCreateKmsTagsRequest(
                key_id=key_id, body=BatchCreateKmsTagsRequestBody(tags=[TagItem(key="x", value="")], action="update")
            )
        ),
        400,
        "KMS.0404",
    )
    assert key_tags(kms.client, key_id) == before


def test_another_projects_key_is_refused_for_tags_and_rotation(servers, tmp_path):
    keys = [
        AccessKey(
            ak="SDKTAGS" + secrets.token_hex(6).upper(),
            sk=secrets.token_urlsafe(30),
            domain_id=secrets.token_hex(16),
            project_id=secrets.token_hex(16),
        )
        for _ in range(2)
    ]
    credentials = tmp_path / "credentials.toml"
    write_credentials(credentials, keys, [])
    server = servers.start(credentials=credentials)
    owner, other = (kms_client(server.url, key) for key in keys)

    class Owner:  # what test_operations' helpers take
        client = owner

    key_id = create_key(Owner)
    add_tag(owner, key_id, "env", "prod")
    calls = [
        lambda: add_tag(other, key_id, "env", "taken"),
        lambda: other.show_kms_tags(ShowKmsTagsRequest(key_id=key_id)),
        lambda: other.delete_tag(DeleteTagRequest(key_id=key_id, key="env")),
        lambda: other.rotate_on_demand(RotateOnDemandRequest(body=RotateOnDemandRequestBody(key_id=key_id))),
        lambda: other.enable_key_rotation(EnableKeyRotationRequest(body=OperateKeyRequestBody(key_id=key_id))),
        lambda: other.show_key_rotation_status(
            ShowKeyRotationStatusRequest(body=OperateKeyRequestBody(key_id=key_id))
        ),
    ]
    for call in calls:
        refused(call, 404, "KMS.0207")
    assert project_tags(other) == {}
    assert key_tags(owner, key_id) == [("env", "prod")]
    status = owner.show_key_rotation_status(ShowKeyRotationStatusRequest(body=OperateKeyRequestBody(key_id=key_id)))
    assert (status.number_of_rotations, status.key_rotation_enabled) == (0, False)


@pytest.mark.parametrize("cmk_spec", ["AES_256", "SM4"])
def test_rotation_on_demand_keeps_old_blobs_opening(kms, cmk_spec):
    key_id = create_key(kms, cmk_spec)
    dek = secrets.token_bytes(32)
    old_blob = round_trip(kms, key_id, cmk_spec, dek)
    key = OperateKeyRequestBody(key_id=key_id)
    kms.client.enable_key_rotation(EnableKeyRotationRequest(body=key))
    kms.client.update_key_rotation_interval(
        UpdateKeyRotationIntervalRequest(body=UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=90))
    )
    assert describe(kms, key_id).key_rotation_enabled == "true"
    rotated = kms.client.rotate_on_demand(RotateOnDemandRequest(body=RotateOnDemandRequestBody(key_id=key_id)))
    assert rotated.key_id == key_id
    new_blob = round_trip(kms, key_id, cmk_spec, dek)
    assert new_blob[76:84] == "00000001" and old_blob[76:84] == "00000000"
    assert_decrypts_to(kms, key_id, cmk_spec, old_blob, dek)
    status = kms.client.show_key_rotation_status(ShowKeyRotationStatusRequest(body=key))
    assert status.key_rotation_enabled is True
    assert (status.rotation_interval, status.number_of_rotations) == (90, 1)
    assert [(m.material_id, m.state) for m in status.key_materials] == [("0", 2), ("1", 1)]
    assert status.last_rotation_time.isdigit()
    refused(
        lambda: kms.client.update_key_rotation_interval(
            UpdateKeyRotationIntervalRequest(
                body=UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=366)
            )
        ),
        400,
        "KMS.3001",
    )
    kms.client.disable_key_rotation(DisableKeyRotationRequest(body=key))
    assert describe(kms, key_id).key_rotation_enabled == "false"
