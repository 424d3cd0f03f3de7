"""`kms serve` processes and SDK clients of them, as the fixtures hand them out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm
from huaweicloudsdkkms.v2 import KmsClient

from kms_serve import AccessKey, KmsServe
from openssl_cli import make_ca_and_server_cert
from sdk_client import SCHEMES, Wire, kms_client


class Servers:
    """Starts `kms serve` processes; at teardown stops each with SIGTERM and checks it
    exited 0."""

    def __init__(self, kms_bin: str, tmp_path_factory: pytest.TempPathFactory):
        self.kms_bin = kms_bin
        self.tmp_path_factory = tmp_path_factory
        self.started: list[KmsServe] = []

    def start(self, workdir: Path | None = None, **kwargs) -> KmsServe:
        """A `kms serve` (KmsServe's keyword arguments), its files in `workdir` or a fresh
        directory."""
        if workdir is None:
            workdir = self.tmp_path_factory.mktemp("kms-serve")
        server = KmsServe(self.kms_bin, workdir, **kwargs)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        failures = []
        for server in self.started:
            code = server.stop()
            if code != 0:
                failures.append(f"{server.args}: exit code {code}; standard error:\n{server.stderr()}")
        assert not failures, "kms serve did not exit 0 on SIGTERM:\n" + "\n".join(failures)


@dataclass
class Deployment:
    """A running `kms serve` and an SDK client of it."""

    name: str
    server: KmsServe
    client: KmsClient
    wire: Wire
    access_key: AccessKey
    scheme: str  # the Authorization scheme every request must carry
    workdir: Path  # scratch space for OpenSSL files


# The configurations the whole flow runs under: the client exactly as the SDK documents
# it (SDK-HMAC-SHA256), the other three signing algorithms through
# HttpConfig.signing_algorithm, and HTTPS with a CA made for the test.
CONFIGURATIONS = {
    "SDK-HMAC-SHA256": (None, False),
    "SDK-HMAC-SM3": (SigningAlgorithm.HMAC_SM3, False),
    "SDK-ECDSA-P256-SHA256": (SigningAlgorithm.ECDSA_P256_SHA256, False),
    "SDK-SM2-SM3": (SigningAlgorithm.SM2_SM3, False),
    "TLS": (None, True),
}


def start_deployment(name: str, servers: Servers, tmp_path_factory) -> Deployment:
    algorithm, tls = CONFIGURATIONS[name]
    workdir = tmp_path_factory.mktemp("sdk-" + name.lower())
    ca_cert = None
    tls_files = None
    if tls:
        ca, cert, key = make_ca_and_server_cert(workdir / "pki")
        ca_cert, tls_files = str(ca), (cert, key)
    server = servers.start(tls=tls_files)
    wire = Wire()
    client = kms_client(
        server.url, server.access_key, signing_algorithm=algorithm, ca_cert=ca_cert, wire=wire
    )
    return Deployment(
        name=name,
        server=server,
        client=client,
        wire=wire,
        access_key=server.access_key,
        scheme=SCHEMES[algorithm or SigningAlgorithm.get_default()],
        workdir=workdir,
    )
