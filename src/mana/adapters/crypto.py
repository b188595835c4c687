"""The web app's ``enc:1:`` field format with AES-256-GCM (crypto.md).

This runs on every encrypted field of every call, so the paths are kept flat: one prebuilt JSON
encoder and decoder, one ``AESGCM`` object per key (built once, reused from a bounded cache), and
``binascii`` instead of the slower ``base64`` wrappers.

Exceptions carry only a category (:class:`~mana.application.errors.DecryptFailed`), never a blob,
a plaintext or key material.
"""

from __future__ import annotations

import binascii
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mana.application.errors import DecryptFailed
from mana.application.ports import MasterKey

PREFIX = "enc:1:"
IV_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
DEFAULT_MAX_KEYS = 10_000

# A format version other than 1 (``enc:2:…``): unreadable, never shown raw (crypto.md §5).
_OTHER_VERSION = re.compile(r"enc:[A-Za-z0-9]{1,16}:")


def _reject_constant(name: str) -> Any:
    raise ValueError("not JSON")


# Prebuilt so that every call takes the encoder's and decoder's fast path (``json.dumps`` with
# non-default arguments builds a new encoder each time). Same output as crypto.md §3's serialiser.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_encode_json = _ENCODER.encode
_decode_json = _DECODER.decode
_b64encode = binascii.b2a_base64
_b64decode = binascii.a2b_base64


def serialise(value: Any) -> str:
    """The exact JSON text that is encrypted (crypto.md §3)."""
    return _encode_json(value)


def _decode_part(part: str) -> bytes:
    """Standard base64, missing ``=`` padding tolerated, any other character refused."""
    missing = -len(part) % 4
    if missing:
        part += "=" * missing
    try:
        return _b64decode(part, strict_mode=True)
    except (binascii.Error, ValueError):
        raise DecryptFailed("malformed") from None


class AesGcmFieldCipher:
    """The :class:`~mana.application.ports.FieldCipher` of one master key."""

    __slots__ = ("_decrypt", "_encrypt", "_iv_source")

    def __init__(self, key: bytes, *, iv_source: Callable[[int], bytes] = os.urandom) -> None:
        """``iv_source`` is a test seam for the fixed IVs of the vectors; production never passes it."""
        if len(key) != KEY_BYTES:
            raise ValueError(f"expected 32-byte master key, got {len(key)}")
        aead = AESGCM(key)
        self._encrypt = aead.encrypt
        self._decrypt = aead.decrypt
        self._iv_source = iv_source

    def encrypt(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            plaintext = _encode_json(value).encode("utf-8")
        except (TypeError, ValueError):
            # No part of the value goes into the message: it may be the user's secret text.
            raise ValueError("value cannot be serialised as JSON text") from None
        iv = self._iv_source(IV_BYTES)
        sealed = self._encrypt(iv, plaintext, None)
        return (
            PREFIX
            + _b64encode(iv, newline=False).decode("ascii")
            + "."
            + _b64encode(sealed, newline=False).decode("ascii")
        )

    def decrypt(self, value: Any) -> Any:
        if not isinstance(value, str) or not value.startswith("enc:"):
            return value
        if not value.startswith(PREFIX):
            if _OTHER_VERSION.match(value):
                raise DecryptFailed("unsupported version")
            return value
        dot = value.find(".", 6)
        if dot < 0:
            raise DecryptFailed("malformed")
        iv = _decode_part(value[6:dot])
        sealed = _decode_part(value[dot + 1 :])
        if len(iv) != IV_BYTES or len(sealed) < TAG_BYTES:
            raise DecryptFailed("malformed")
        try:
            plaintext = self._decrypt(iv, sealed, None)
        except InvalidTag:
            raise DecryptFailed("authentication failed") from None
        try:
            return _decode_json(plaintext.decode("utf-8"))
        except (ValueError, RecursionError):
            # UnicodeDecodeError is a ValueError: bytes that are not UTF-8 are not JSON text either.
            raise DecryptFailed("not JSON") from None


class AesGcmCipherFactory:
    """The :class:`~mana.application.ports.CipherFactory`: one cipher per key, LRU-bounded.

    Building ``AESGCM`` costs about as much as one small encryption (crypto.md §1), so the cipher
    is kept while its key is in use; an evicted key is dropped with its cipher.
    """

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max = max_keys
        self._ciphers: OrderedDict[bytes, AesGcmFieldCipher] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ciphers)

    def cipher(self, key: MasterKey) -> AesGcmFieldCipher:
        material = key.material
        with self._lock:
            found = self._ciphers.get(material)
            if found is not None:
                self._ciphers.move_to_end(material)
                return found
        created = AesGcmFieldCipher(material)
        with self._lock:
            found = self._ciphers.get(material)
            if found is not None:
                return found
            self._ciphers[material] = created
            if len(self._ciphers) > self._max:
                self._ciphers.popitem(last=False)
        return created
