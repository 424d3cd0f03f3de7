"""The official Node.js SDK's core (`@huaweicloud/huaweicloud-sdk-core`, pinned in
sdk-tests/node/package-lock.json), unmodified, against `kms serve`: a second official client
whose signer signs every header it sends (user-agent and the SDK's own content type among
them) over the body as `JSON.stringify` writes it, with no spaces. npm publishes no KMS
package of the Node.js SDK, so the calls go through the core's generic HcClient, as the
service packages' do. `$KMS_NODE_SDK` is the directory `npm ci` installed it into."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from dek_digest import dek_digest
from kms_serve import AccessKey

CLIENT = Path(__file__).parent / "node" / "client.js"


@pytest.fixture(scope="module")
def node_sdk() -> Path:
    installed = os.environ.get("KMS_NODE_SDK")
    if not installed:
        pytest.fail("KMS_NODE_SDK is not set: .ci/test installs the Node.js SDK with npm ci and sets it")
    path = Path(installed)
    if not (path / "node_modules" / "@huaweicloud" / "huaweicloud-sdk-core").is_dir():
        pytest.fail(f"KMS_NODE_SDK={installed} holds no node_modules/@huaweicloud/huaweicloud-sdk-core")
    return path


def run_node(node_sdk: Path, tmp_path: Path, url: str, key: AccessKey, calls: list[dict]) -> list[dict]:
    out = tmp_path / "node-results.json"
    plan = {
        "endpoint": url,
        "ak": key.ak,
        "sk": key.sk,
        "project_id": key.project_id,
        "out": str(out),
        "calls": calls,
    }
    finished = subprocess.run(
        ["node", str(CLIENT)],
        input=json.dumps(plan).encode(),
        capture_output=True,
        env={**os.environ, "NODE_PATH": str(node_sdk / "node_modules")},
        cwd=tmp_path,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")
    results = json.loads(out.read_text())
    assert len(results) == len(calls), results
    return results


def post(operation: str, body: dict) -> dict:
    return {"method": "POST", "path": "/v1.0/{project_id}/kms/" + operation, "body": body}


def test_the_node_sdk_core_round_trips_a_dek_and_reads_the_key(servers, node_sdk, tmp_path):
    server = servers.start()
    key = server.access_key
    alias = f"node-{uuid.uuid4().hex[:12]}"
    (created,) = run_node(node_sdk, tmp_path, server.url, key, [post("create-key", {"key_alias": alias})])
    assert created["status"] == 200, created
    key_id = created["body"]["key_info"]["key_id"]
    assert created["body"]["key_info"]["domain_id"] == key.domain_id

    dek = os.urandom(32)
    plain_text = (dek + dek_digest("AES_256", dek)).hex()
    (sealed,) = run_node(
        node_sdk,
        tmp_path,
        server.url,
        key,
        [post("encrypt-datakey", {"key_id": key_id, "plain_text": plain_text, "datakey_plain_length": "32"})],
    )
    assert sealed["status"] == 200, sealed
    assert sealed["body"]["key_id"] == key_id
    cipher_text = sealed["body"]["cipher_text"]

    opened, described, pair, random, tags = run_node(
        node_sdk,
        tmp_path,
        server.url,
        key,
        [
            post("decrypt-datakey", {"key_id": key_id, "cipher_text": cipher_text, "datakey_cipher_length": "32"}),
            post("describe-key", {"key_id": key_id}),
            post("create-ec-datakey-pair", {"key_id": key_id, "key_spec": "ECC_NIST_P256", "with_plain_text": True}),
            post("gen-random", {"random_data_length": "256"}),
            {"method": "GET", "path": "/v1.0/{project_id}/kms/" + key_id + "/tags"},
        ],
    )
    assert opened == {
        "status": 200,
        "body": {
            "data_key": dek.hex().upper(),
            "datakey_length": "32",
            "datakey_dgst": dek_digest("AES_256", dek).hex().upper(),
        },
    }
    assert described["status"] == 200, described
    info = described["body"]["key_info"]
    assert (info["key_id"], info["key_alias"], info["key_state"], info["key_spec"]) == (
        key_id,
        alias,
        "2",
        "AES_256",
    )
    assert pair["status"] == 200, pair
    assert pair["body"]["key_id"] == key_id and pair["body"]["key_spec"] == "ECC_NIST_P256"
    assert pair["body"]["public_key"] and pair["body"]["private_key_plain_text"]
    assert random["status"] == 200 and len(bytes.fromhex(random["body"]["random_data"])) == 32, random
    assert tags == {"status": 200, "body": {"tags": [], "existTagsNum": 0}}


def test_the_node_sdk_core_gets_each_refusal_with_its_status_and_request_id(servers, node_sdk, tmp_path):
    server = servers.start()
    key = server.access_key
    unknown = str(uuid.uuid4())
    not_found, bad_id = run_node(
        node_sdk,
        tmp_path,
        server.url,
        key,
        [post("describe-key", {"key_id": unknown}), post("describe-key", {"key_id": "not-a-key-id"})],
    )
    # The core reads a code from `error.code` or a flat `error_code`; the KMS form
    # `{"error": {"error_code", "error_msg"}}` (the cloud service's too) leaves its
    # exception without one, so the code is read from the access log line of its request ID.
    for result, status, code in ((not_found, 404, "KMS.0207"), (bad_id, 400, "KMS.0205")):
        assert result["status"] == status, result
        assert result["request_id"], result
        line = server.log_line(result["request_id"])
        assert (line["status"], line["error_code"]) == (status, code), line

    wrong_secret = AccessKey(key.ak, key.sk[::-1], key.domain_id, key.project_id)
    (refused,) = run_node(node_sdk, tmp_path, server.url, wrong_secret, [post("describe-key", {"key_id": unknown})])
    # The gateway's flat form, which the core does read.
    assert (refused["status"], refused["error_code"]) == (401, "APIGW.0301"), refused
    assert refused["error_msg"].startswith("Incorrect IAM authentication information"), refused
