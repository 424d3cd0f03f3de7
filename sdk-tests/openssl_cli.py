"""The OpenSSL CLI as a customer runs it: wrapping key material for import, reading the
public and private keys the API returns, and a CA and server certificate for TLS."""

from __future__ import annotations

import base64
import re
import subprocess
import textwrap
from pathlib import Path


def openssl(args: list[str], stdin: bytes = b"", cwd: Path | None = None) -> bytes:
    """Runs `openssl args`, returns standard output; fails the test if it fails."""
    result = subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, cwd=cwd, check=False
    )
    assert result.returncode == 0, (
        f"openssl {' '.join(args)} failed ({result.returncode}): "
        f"{result.stderr.decode(errors='replace')}"
    )
    return result.stdout


def public_key_pem(spki_b64: str) -> str:
    """The PEM of a base64 DER SubjectPublicKeyInfo, as `openssl pkey` writes it."""
    body = "\n".join(textwrap.wrap(spki_b64, 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


# --- import wrapping -------------------------------------------------------------------

def oaep(digest: str) -> list[str]:
    return [
        "-pkeyopt", "rsa_padding_mode:oaep",
        "-pkeyopt", f"rsa_oaep_md:{digest}",
        "-pkeyopt", f"rsa_mgf1_md:{digest}",
    ]  # fmt: skip


WRAP_OPTIONS = {
    "RSAES_OAEP_SHA_256": oaep("sha256"),
    "RSAES_OAEP_SHA_1": oaep("sha1"),
    "SM2_ENCRYPT": [],
}


def wrap_material(workdir: Path, wrapping_algorithm: str, spki_b64: str, material: bytes) -> bytes:
    """`openssl pkeyutl -encrypt` of `material` to the wrapping public key of
    get-parameters-for-import: RSA-OAEP (SHA-256 or SHA-1, MGF1 alike) or SM2 (GM/T 0009
    DER)."""
    pem = workdir / "wrapping-key.pem"
    pem.write_text(public_key_pem(spki_b64))
    options = WRAP_OPTIONS[wrapping_algorithm]
    return openssl(["pkeyutl", "-encrypt", "-pubin", "-inkey", str(pem), *options], material)


# --- keys the API returns --------------------------------------------------------------


def public_key_text(workdir: Path, spki_der: bytes) -> str:
    """`openssl pkey -pubin -text_pub` of a DER SPKI (fails unless it parses)."""
    path = workdir / "public.der"
    path.write_bytes(spki_der)
    return openssl(["pkey", "-pubin", "-inform", "DER", "-in", str(path), "-noout", "-text_pub"]).decode()


def curve_of(workdir: Path, spki_der: bytes) -> str:
    """The curve an EC public key names (`ASN1 OID: ...`)."""
    text = public_key_text(workdir, spki_der)
    match = re.search(r"^ASN1 OID: (\S+)$", text, re.M)
    assert match, text
    return match.group(1)


def rsa_bits_of(workdir: Path, spki_der: bytes) -> int:
    """The modulus size of an RSA public key."""
    text = public_key_text(workdir, spki_der)
    match = re.search(r"^(?:RSA )?Public-Key: \((\d+) bit\)$", text, re.M)
    assert match, text
    return int(match.group(1))


def public_key_of_private(workdir: Path, pkcs8_der: bytes) -> bytes:
    """The DER SPKI of a PKCS#8 DER private key, after OpenSSL's consistency check."""
    path = workdir / "private.der"
    path.write_bytes(pkcs8_der)
    try:
        check = openssl(["pkey", "-inform", "DER", "-in", str(path), "-check", "-noout"]).decode()
        assert "valid" in check.lower(), check
        return openssl(["pkey", "-inform", "DER", "-in", str(path), "-pubout", "-outform", "DER"])
    finally:
        path.unlink()


def b64decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# --- TLS -------------------------------------------------------------------------------

_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {cn}
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def make_ca_and_server_cert(workdir: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate it issues for 127.0.0.1 (IP SAN), P-256 keys.
    Returns (CA certificate, server certificate, server key), all PEM."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca_cnf = workdir / "ca.cnf"
    ca_cnf.write_text(_CONFIG.format(cn="kms sdk-tests CA"))
    server_cnf = workdir / "server.cnf"
    server_cnf.write_text(_CONFIG.format(cn="127.0.0.1"))
    ca_key, ca_cert = workdir / "ca.key", workdir / "ca.pem"
    key, csr, cert = workdir / "server.key", workdir / "server.csr", workdir / "server.pem"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl(["req", "-x509", "-config", str(ca_cnf), "-extensions", "ca", *ec,
             "-keyout", str(ca_key), "-out", str(ca_cert), "-days", "2"])  # fmt: skip
    openssl(["req", "-new", "-config", str(server_cnf), *ec,
             "-keyout", str(key), "-out", str(csr)])  # fmt: skip
    openssl(["x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-set_serial", "0x" + "5d" * 8, "-days", "2", "-sha256",
             "-extfile", str(server_cnf), "-extensions", "server", "-out", str(cert)])  # fmt: skip
    key.chmod(0o600)
    return ca_cert, cert, key
