"""What `kms serve` does on start: the one JSON line on standard output, and the
credentials file it creates on a first run (mode 0600, the secret printed once) or refuses
when others can read it."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import tomllib

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
    key = first.access_key
    announcement = (
        f"created {first.credentials} with access key {key.ak}, secret key {key.sk}, "
        f"project {key.project_id} (keep the secret key)"
    )
    assert first.stderr().count(announcement) == 1, first.stderr()
    assert first.stdout().count(key.sk) == 0, "the secret key is on standard output"
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


def test_credentials_readable_by_others_are_refused(kms_bin, tmp_path):
    credentials = tmp_path / "credentials.toml"
    key = AccessKey("SDKTESTSREFUSED00001", os.urandom(20).hex(), os.urandom(16).hex(), os.urandom(16).hex())
    write_credentials(credentials, [key], [])
    os.chmod(credentials, 0o644)
    result = subprocess.run(
        [kms_bin, "--home", str(tmp_path / "home"), "serve", "--listen", "127.0.0.1:0",
         "--credentials", str(credentials)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stdout == b"", "it announced a listener"
    assert result.stderr.strip(), "refused without a word on standard error"
    assert key.sk.encode() not in result.stderr
