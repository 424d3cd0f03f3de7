"""What `kms serve` does on start: the one JSON line on standard output, and the
credentials file it creates on a first run (mode 0600, the secret key never printed) or
refuses (readable by others, an unknown field)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path

from huaweicloudsdkkms.v2.model import ListKeysRequest, ListKeysRequestBody

from kms_serve import AccessKey, write_credentials
from sdk_client import kms_client

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_first_run_creates_a_credentials_file_and_says_so_once(servers, tmp_path):
    home = tmp_path / "home"
    (tmp_path / "first").mkdir()
    first = servers.start(workdir=tmp_path / "first", home=home)
    assert first.credentials == home / "credentials.toml"
    mode = stat.S_IMODE(os.stat(first.credentials).st_mode)
    assert mode == 0o600, oct(mode)
    with open(first.credentials, "rb") as file:
        parsed = tomllib.load(file)
    assert len(parsed["access_keys"]) == 1
    entry = parsed["access_keys"][0]
    assert entry["ak"] and entry["sk"]
    assert HEX32.match(entry["domain_id"]), entry["domain_id"]
    assert len(entry["projects"]) == 1 and HEX32.match(entry["projects"][0]), entry["projects"]
    # Standard error says where the file is and which access key and project it holds;
    # the secret key is in the file only (docs/SERVER.md "Credentials").
    key = first.access_key
    said = [line for line in first.stderr().splitlines() if str(first.credentials) in line]
    assert len(said) == 1, first.stderr()
    assert key.ak in said[0] and key.project_id in said[0], said[0]
    assert key.sk not in first.stderr() and key.sk not in first.stdout(), "the secret key was printed"
    # It works for the SDK as printed.
    listed = kms_client(first.url, key).list_keys(ListKeysRequest(body=ListKeysRequestBody()))
    assert listed.total == 0
    first.assert_stops_cleanly()

    # The next start on that home uses the same file and prints no secret.
    (tmp_path / "second").mkdir()
    second = servers.start(workdir=tmp_path / "second", home=home)
    assert second.credentials == first.credentials
    assert second.access_key == key
    assert key.sk not in second.stderr() and key.sk not in second.stdout()


def test_the_announcement_is_one_json_line(servers):
    server = servers.start()
    first_line = server.stdout().split("\n", 1)[0]
    assert json.loads(first_line) == {
        "listening": server.url,
        "credentials": str(server.credentials),
    }


def refusal(kms_bin: str, home: Path, credentials: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [kms_bin, "--home", str(home), "serve", "--listen", "127.0.0.1:0",
         "--credentials", str(credentials)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False,
    )  # fmt: skip


def access_key() -> AccessKey:
    return AccessKey("SDKTESTSREFUSED00001", os.urandom(20).hex(), os.urandom(16).hex(), os.urandom(16).hex())


def assert_refused(result: subprocess.CompletedProcess, key: AccessKey) -> None:
    assert result.returncode == 1, result
    assert result.stdout == b"", "it announced a listener"
    error = json.loads(result.stderr.decode().strip().splitlines()[-1])
    assert error["error"]["error_code"] == "KMS.0308", error
    assert key.sk.encode() not in result.stderr


def test_credentials_readable_by_others_are_refused(kms_bin, tmp_path):
    credentials = tmp_path / "credentials.toml"
    key = access_key()
    write_credentials(credentials, [key], [])
    for mode in (0o640, 0o604):
        os.chmod(credentials, mode)
        assert_refused(refusal(kms_bin, tmp_path / "home", credentials), key)


def test_credentials_with_an_unknown_field_are_refused(kms_bin, tmp_path):
    credentials = tmp_path / "credentials.toml"
    key = access_key()
    write_credentials(credentials, [key], [])
    with open(credentials, "a", encoding="utf-8") as file:
        file.write('secret_key = "typo of sk"\n')
    assert_refused(refusal(kms_bin, tmp_path / "home", credentials), key)
