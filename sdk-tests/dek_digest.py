"""The digest encrypt-datakey wants appended to a DEK: SHA-256 under an AES_256 CMK, SM3
under an SM4 CMK."""

from __future__ import annotations

import hashlib
import subprocess


def sm3(data: bytes) -> bytes:
    if "sm3" in hashlib.algorithms_available:
        return hashlib.new("sm3", data).digest()
    result = subprocess.run(
        ["openssl", "dgst", "-sm3", "-binary"], input=data, capture_output=True, check=True
    )
    return result.stdout


def dek_digest(cmk_spec: str, dek: bytes) -> bytes:
    if cmk_spec == "AES_256":
        return hashlib.sha256(dek).digest()
    if cmk_spec == "SM4":
        return sm3(dek)
    raise ValueError(cmk_spec)


# GB/T 32905 / facts.md: SM3("abc").
assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
