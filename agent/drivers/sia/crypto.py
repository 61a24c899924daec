"""DC-09 encryption: AES-CBC with a zero IV over hex text, pad bytes before a ``|``.

An encrypted frame (id token with a leading ``*``) carries, after the ``[`` that opens
its data, the hex of AES-CBC(key, IV = 0, pad + ``|`` + data + ``]`` + x-data +
timestamp). The pad makes the plaintext a whole number of 16-byte blocks and holds no
``|``, so the first ``|`` ends it. Keys are 16, 24 or 32 bytes (AES-128/192/256).
Keys never appear in logs or messages.
"""

from __future__ import annotations

import binascii
import secrets
from typing import TYPE_CHECKING, Final

from Crypto.Cipher import AES

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["CryptoError", "decrypt", "encrypt", "key_bytes"]

_BLOCK: Final = 16
_PAD_ALPHABET: Final = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ZERO_IV: Final = bytes(_BLOCK)


class CryptoError(ValueError):
    """Ciphertext that does not decrypt into DC-09 data (wrong key, not hex, no ``|``)."""


def key_bytes(key: SecretStr, encoding: str) -> bytes:
    """The AES key a configured key stands for (`ascii`: its characters; `hex`: decoded)."""
    secret = key.get_secret_value()
    return secret.encode("ascii") if encoding == "ascii" else bytes.fromhex(secret)


def decrypt(key: bytes, ciphertext: bytes) -> bytes:
    """The data of an encrypted frame: what follows the first ``|`` of the plaintext."""
    try:
        raw = binascii.unhexlify(ciphertext)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError(f"the ciphertext is not hex ({len(ciphertext)} characters)") from exc
    if not raw or len(raw) % _BLOCK:
        raise CryptoError(f"the ciphertext is {len(raw)} bytes, not whole AES blocks")
    plain = AES.new(key, AES.MODE_CBC, iv=_ZERO_IV).decrypt(raw)
    _pad, bar, data = plain.partition(b"|")
    if not bar:
        message = "no '|' after the pad: wrong key, or not DC-09 encryption"
        raise CryptoError(message)
    return data


def encrypt(key: bytes, data: bytes) -> bytes:
    """Hex (uppercase) of pad + ``|`` + `data`, AES-CBC with a zero IV: an encrypted answer."""
    pad_length = -(len(data) + 1) % _BLOCK
    pad = bytes(secrets.choice(_PAD_ALPHABET) for _ in range(pad_length))
    cipher = AES.new(key, AES.MODE_CBC, iv=_ZERO_IV)
    return binascii.hexlify(cipher.encrypt(pad + b"|" + data)).upper()
