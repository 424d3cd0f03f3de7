"""`kms serve` as a child process: started on an ephemeral loopback port in a home of its
own, its standard output and error kept in files (the access log is graded from them),
stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
LOG_WAIT_S = 5.0


@dataclass(frozen=True)
class AccessKey:
    """One `[[access_keys]]` entry of a credentials file."""

    ak: str
    sk: str
    domain_id: str
    project_id: str


def write_credentials(path: Path, access_keys: list[AccessKey], tokens: list[dict]) -> None:
    """Writes a credentials file (mode 0600, as `kms serve` requires)."""

    def quoted(text: str) -> str:
        return json.dumps(text)  # a JSON string is a TOML basic string

    lines = []
    for key in access_keys:
        lines += [
            "[[access_keys]]",
            f"ak = {quoted(key.ak)}",
            f"sk = {quoted(key.sk)}",
            f"domain_id = {quoted(key.domain_id)}",
            f"projects = [{quoted(key.project_id)}]",
            "",
        ]
    for token in tokens:
        lines += [
            "[[tokens]]",
            f"sha256 = {quoted(token['sha256'])}",
            f"domain_id = {quoted(token['domain_id'])}",
            "projects = [" + ", ".join(quoted(p) for p in token["projects"]) + "]",
            "",
        ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write("\n".join(lines))


def read_access_key(credentials: Path) -> AccessKey:
    """The first access key of a credentials file and its first project."""
    with open(credentials, "rb") as file:
        parsed = tomllib.load(file)
    entry = parsed["access_keys"][0]
    return AccessKey(
        ak=entry["ak"],
        sk=entry["sk"],
        domain_id=entry["domain_id"],
        project_id=entry["projects"][0],
    )


class KmsServe:
    """One `kms serve` process."""

    def __init__(
        self,
        kms_bin: str,
        workdir: Path,
        *,
        home: Path | None = None,
        credentials: Path | None = None,
        tls: tuple[Path, Path] | None = None,
        backend_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ):
        """`kms --home HOME [backend_args] serve --listen 127.0.0.1:0 ...`, the home a fresh
        `workdir/home` unless given, standard output and error in `workdir`."""
        self.workdir = workdir
        self.home = home if home is not None else workdir / "home"
        self.stdout_path = workdir / "stdout.log"
        self.stderr_path = workdir / "stderr.log"
        args = [kms_bin, "--home", str(self.home), *(backend_args or [])]
        args += ["serve", "--listen", "127.0.0.1:0"]
        if credentials is not None:
            args += ["--credentials", str(credentials)]
        if tls is not None:
            cert, key = tls
            args += ["--tls-cert", str(cert), "--tls-key", str(key)]
        self.args = args
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env={**os.environ, **(env or {})},
            )
        self.stopped = False
        try:
            self._read_announcement(tls is not None)
        except BaseException:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.stopped = True
            raise

    def _read_announcement(self, tls: bool) -> None:
        first = self._first_line()
        try:
            announced = json.loads(first)
        except json.JSONDecodeError as err:
            raise AssertionError(f"the first line of standard output is not JSON: {first!r}") from err
        assert isinstance(announced, dict) and set(announced) == {"listening", "credentials"}, announced
        self.url: str = announced["listening"]
        self.credentials = Path(announced["credentials"])
        assert self.credentials.is_absolute(), announced
        scheme = "https" if tls else "http"
        assert re.fullmatch(rf"{scheme}://127\.0\.0\.1:[1-9][0-9]{{0,4}}", self.url), announced
        self.port = int(self.url.rsplit(":", 1)[1])
        self.access_key = read_access_key(self.credentials)

    def _first_line(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            data = self.stdout_path.read_bytes()
            if b"\n" in data:
                return data.split(b"\n", 1)[0].decode("utf-8")
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.args} exited with {self.process.returncode} before printing "
                    f"where it listens; standard error:\n{self.stderr()}"
                )
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                raise AssertionError(
                    f"{self.args} printed nothing in {START_TIMEOUT_S} s; standard error:\n"
                    f"{self.stderr()}"
                )
            time.sleep(0.02)

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def output_bytes(self) -> bytes:
        """Everything the process wrote, standard output and error."""
        return self.stdout_path.read_bytes() + b"\n" + self.stderr_path.read_bytes()

    def access_log(self) -> list[dict]:
        """The access log's request lines so far: every complete line of standard output
        after the first, but those of the periodic maintenance (docs/SERVER.md)."""
        lines = [json.loads(line) for line in self.stdout_path.read_bytes().split(b"\n")[1:-1]]
        return [line for line in lines if "maintenance" not in line]

    def log_line(self, request_id: str) -> dict:
        """The access log line of `request_id`, waiting briefly for it to be written."""
        return self.log_lines([request_id])[request_id]

    def log_lines(self, request_ids: list[str]) -> dict[str, dict]:
        """The access log lines of `request_ids` (one each) by request ID, waiting briefly
        for them all to be written: requests answered on several connections at once may
        reach the log in different batches, in any order."""
        wanted = set(request_ids)
        deadline = time.monotonic() + LOG_WAIT_S
        while True:
            found: dict[str, list[dict]] = {}
            for line in self.access_log():
                if line.get("request_id") in wanted:
                    found.setdefault(line["request_id"], []).append(line)
            missing = [request_id for request_id in request_ids if request_id not in found]
            if not missing:
                for matches in found.values():
                    assert len(matches) == 1, matches
                return {request_id: found[request_id][0] for request_id in request_ids}
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no access log lines with request_ids {missing!r}; the log:\n{self.stdout()}"
                )
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM, then the exit code (the caller asserts it is 0)."""
        if self.stopped:
            return self.process.returncode
        self.stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(
                    f"kms serve did not exit within {STOP_TIMEOUT_S} s of SIGTERM; standard "
                    f"error:\n{self.stderr()}"
                )
        return self.process.returncode

    def assert_stops_cleanly(self) -> None:
        code = self.stop()
        assert code == 0, f"kms serve exited with {code} on SIGTERM; standard error:\n{self.stderr()}"
