"""The ``enc:1:`` format against the known-answer vectors and every further case of crypto.md §7.

The vectors are copied here as literals (the spec folder may be missing on a fresh clone); when
``crypto-vectors.json`` is present, its vectors run as well, so a change to either is noticed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mana.adapters.crypto import AesGcmCipherFactory, AesGcmFieldCipher, serialise
from mana.application.errors import DecryptFailed
from mana.application.ports import MasterKey

V1_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
V1_BLOB = "enc:1:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw="
V3_BLOB = (
    "enc:1:yv66vvrO263eyviI.0diCT85YdTl/aW+7TXy9WiARo2O7NF4Re7kpSd+wB9KdM/Ai87F6BBI6HQoQrwIRMCDFNIGwqoNX9wEc"
    "j8abYAjxHR0iNDG6JL9CPJJ4kVdr1SpdNVelatiPTkBpxKyaF3XfE52gFtRJwRhserg="
)

VECTORS: list[dict[str, Any]] = [
    {
        "name": "V1",
        "key": V1_KEY,
        "iv": "000102030405060708090a0b",
        "plaintext": "Buy milk",
        "plaintextJson": '"Buy milk"',
        "blob": V1_BLOB,
    },
    {
        "name": "V2",
        "key": "ERERERERERERERERERERERERERERERERERERERERERE=",
        "iv": "a0a1a2a3a4a5a6a7a8a9aaab",
        "plaintext": "Spazieren gehen – glücklich ☀",
        "plaintextJson": '"Spazieren gehen – glücklich ☀"',
        "blob": (
            "enc:1:oKGio6Slpqeoqaqr.QecALDp95uFdcZM8Gi1YgoIVRqEp6u1oqLeFgjG1Xkpq7XO0Mgww/Ar0QXr35MfwZXKFWw=="
        ),
    },
    {
        "name": "V3",
        "key": V1_KEY,
        "iv": "cafebabefacedbaddecaf888",
        "plaintext": [
            {
                "id": "9b2f6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
                "title": "Step 1",
                "isCompleted": False,
                "order": 0,
            }
        ],
        "plaintextJson": (
            '[{"id":"9b2f6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b","title":"Step 1","isCompleted":false,"order":0}]'
        ),
        "blob": V3_BLOB,
    },
    {
        "name": "V4",
        "key": V1_KEY,
        "iv": "000000000000000000000000",
        "plaintext": "",
        "plaintextJson": '""',
        "blob": "enc:1:AAAAAAAAAAAAAAAA.LJ7b1YOADOOnk0pj1dk7cu7l",
    },
]

NEGATIVE: list[dict[str, Any]] = [
    {
        "name": "N1-wrong-key",
        "key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh4=",
        "blob": "enc:1:Dw4NDAsKCQgHBgUE.hnreKSm5zsLR/9B/T+jmbw5GdAW2eZwRJT2OmVNj3Aif5oaGd2QMplSVIbtHgbIR",
        "control": {"key": V1_KEY, "plaintext": "Journal: a wrong key must fail"},
    },
    {
        "name": "N2-tampered-ciphertext",
        "key": V1_KEY,
        "blob": "enc:1:EBESExQVFhcYGRob.B9z0dyusVvquBionVFsIYvV8bGwp4ArMTd658v+sA8boMp6uPTtXJw==",
        "control": {
            "blob": "enc:1:EBESExQVFhcYGRob.Btz0dyusVvquBionVFsIYvV8bGwp4ArMTd658v+sA8boMp6uPTtXJw==",
            "plaintext": {"labelIds": ["a1", "b2"]},
        },
    },
]

SPEC_FILE = Path("/work/shared/spec/crypto-vectors.json")


def _spec_document() -> dict[str, Any] | None:
    return json.loads(SPEC_FILE.read_text(encoding="utf-8")) if SPEC_FILE.is_file() else None


def _all(kind: str, literal: list[dict[str, Any]]) -> list[Any]:
    cases = [pytest.param(case, id=f"literal-{case['name']}") for case in literal]
    document = _spec_document()
    if document is not None:
        cases += [pytest.param(case, id=f"spec-{case['name']}") for case in document[kind]]
    return cases


def _key(b64: str) -> bytes:
    return base64.b64decode(b64)


def _cipher(b64_key: str = V1_KEY, iv_hex: str | None = None) -> AesGcmFieldCipher:
    if iv_hex is None:
        return AesGcmFieldCipher(_key(b64_key))
    iv = bytes.fromhex(iv_hex)
    return AesGcmFieldCipher(_key(b64_key), iv_source=lambda n: iv[:n])


def _matches_literal(case: dict[str, Any], literal: list[dict[str, Any]]) -> None:
    """A case read from the spec file must equal the literal copy kept here."""
    mine = next(m for m in literal if m["name"] == case["name"])
    for key, value in mine.items():
        if key == "control":
            assert {k: case[key][k] for k in value} == value
        else:
            assert case[key] == value


@pytest.mark.parametrize("vector", _all("vectors", VECTORS))
def test_vector_serialises_encrypts_and_decrypts(vector: dict[str, Any]) -> None:
    _matches_literal(vector, VECTORS)
    assert serialise(vector["plaintext"]) == vector["plaintextJson"]
    cipher = _cipher(vector["key"], vector["iv"])
    assert cipher.encrypt(vector["plaintext"]) == vector["blob"]
    assert cipher.decrypt(vector["blob"]) == vector["plaintext"]


@pytest.mark.parametrize("vector", _all("vectors", VECTORS))
def test_vector_blob_length_follows_the_formula(vector: dict[str, Any]) -> None:
    n = len(vector["plaintextJson"].encode("utf-8"))
    after_dot = 4 * -(-(n + 16) // 3)
    assert len(vector["blob"]) == 6 + 16 + 1 + after_dot


@pytest.mark.parametrize("case", _all("negative", NEGATIVE))
def test_negative_vector_fails_authentication_and_its_control_decrypts(case: dict[str, Any]) -> None:
    _matches_literal(case, NEGATIVE)
    with pytest.raises(DecryptFailed) as failure:
        _cipher(case["key"]).decrypt(case["blob"])
    assert failure.value.category == "authentication failed"
    control = case["control"]
    if "key" in control:
        assert _cipher(control["key"]).decrypt(case["blob"]) == control["plaintext"]
    else:
        assert _cipher(case["key"]).decrypt(control["blob"]) == control["plaintext"]


@pytest.mark.parametrize(
    ("blob", "category"),
    [
        pytest.param(
            "enc:1:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYq0=", "authentication failed", id="tag"
        ),
        pytest.param(
            "enc:1:AQECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw=", "authentication failed", id="iv"
        ),
        pytest.param("enc:1:AAECAwQFBgcICQoLZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw=", "malformed", id="no-dot"),
        pytest.param("enc:1:AAECAwQFBgcICQoL.AAAAAAAAAAAAAA==", "malformed", id="10-bytes"),
        pytest.param(V3_BLOB.replace("+", "-").replace("/", "_"), "malformed", id="url-safe"),
        pytest.param("enc:1:DA0ODxAREhMUFRYX.2osQ+BIfkDiEyv7V+FyeKUE0PlzSWHDQ", "not JSON", id="bare-text"),
        pytest.param("enc:1:DA0ODxAREhMUFRYX.ugFLUqAOQ2i7oEhUulSeoUiTrw==", "not JSON", id="not-utf8"),
        pytest.param("enc:1:AAECAwQFBgcICQ.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw=", "malformed", id="short-iv"),
        pytest.param("enc:1:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgk Yqw=", "malformed", id="space"),
        pytest.param(
            "enc:1:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw=\n", "malformed", id="newline"
        ),
        pytest.param("enc:1:.", "malformed", id="empty-parts"),
        pytest.param(
            "enc:1:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqwé", "malformed", id="non-ascii"
        ),
        pytest.param(
            "enc:2:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw=", "unsupported version", id="v2"
        ),
        pytest.param("enc:v10:anything", "unsupported version", id="other-version"),
    ],
)
def test_unreadable_values_fail_with_a_category(blob: str, category: str) -> None:
    with pytest.raises(DecryptFailed) as failure:
        _cipher().decrypt(blob)
    assert failure.value.category == category
    assert str(failure.value) == category  # the exception text is the category alone, never data


def test_missing_padding_is_tolerated() -> None:
    assert _cipher().decrypt("enc:1:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw") == "Buy milk"


@pytest.mark.parametrize(
    "value", ["hello", 42, True, None, "enc:1", "enc:", "enc::x", 1.5, [V1_BLOB], {"a": 1}]
)
def test_values_that_are_not_enc1_strings_come_back_unchanged(value: Any) -> None:
    assert _cipher().decrypt(value) == value


def test_encrypting_none_returns_none() -> None:
    assert _cipher().encrypt(None) is None


@pytest.mark.parametrize(
    "value", [42, False, 0, [], {}, "", "enc:1:AAECAwQFBgcICQoL.x", {"ü": ["☀", 1.5, None]}]
)
def test_every_other_value_round_trips_through_a_blob(value: Any) -> None:
    cipher = _cipher()
    blob = cipher.encrypt(value)
    assert isinstance(blob, str)
    assert blob.startswith("enc:1:")
    assert blob != value
    assert cipher.decrypt(blob) == value


def test_text_that_looks_encrypted_is_encrypted_again() -> None:
    cipher = _cipher()
    blob = cipher.encrypt(V1_BLOB)
    assert blob != V1_BLOB
    assert cipher.decrypt(blob) == V1_BLOB


def test_same_value_twice_gives_different_blobs() -> None:
    cipher = _cipher()
    first, second = cipher.encrypt("Buy milk"), cipher.encrypt("Buy milk")
    assert first != second
    assert first[6:22] != second[6:22]  # fresh IV per value
    assert cipher.decrypt(first) == cipher.decrypt(second) == "Buy milk"


def test_written_blob_uses_the_standard_padded_alphabet() -> None:
    blob = _cipher().encrypt("x" * 100)
    iv_part, data_part = blob[6:].split(".")
    assert len(iv_part) == 16
    assert len(data_part) % 4 == 0
    assert base64.b64decode(data_part, validate=True)
    assert set(blob[6:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=.")


def test_nan_and_unserialisable_values_are_refused_without_echoing_them() -> None:
    cipher = _cipher()
    with pytest.raises(ValueError, match="cannot be serialised") as nan:
        cipher.encrypt(float("nan"))
    assert "nan" not in str(nan.value).lower()
    with pytest.raises(ValueError, match="cannot be serialised"):
        cipher.encrypt({"secret": object()})
    with pytest.raises(ValueError, match="cannot be serialised") as lone:
        cipher.encrypt("my secret \ud800")
    assert "secret" not in str(lone.value)


def test_decrypted_constants_outside_json_are_refused() -> None:
    cipher = _cipher()
    # Seal the bytes NaN (accepted by Python's default parser, not JSON) under the real key.
    sealed = AESGCM(_key(V1_KEY)).encrypt(bytes(12), b"NaN", None)
    blob = "enc:1:" + base64.b64encode(bytes(12)).decode() + "." + base64.b64encode(sealed).decode()
    with pytest.raises(DecryptFailed) as failure:
        cipher.decrypt(blob)
    assert failure.value.category == "not JSON"


def test_cipher_refuses_keys_of_another_length() -> None:
    with pytest.raises(ValueError, match="expected 32-byte master key, got 16"):
        AesGcmFieldCipher(bytes(16))


def test_factory_reuses_one_cipher_per_key_and_evicts_the_least_recently_used() -> None:
    factory = AesGcmCipherFactory(max_keys=2)
    a, b, c = (MasterKey(bytes([i]) * 32) for i in (1, 2, 3))
    first_a = factory.cipher(a)
    assert factory.cipher(MasterKey(bytes([1]) * 32)) is first_a
    first_b = factory.cipher(b)
    factory.cipher(a)  # a is now the most recently used
    factory.cipher(c)  # evicts b
    assert len(factory) == 2
    assert factory.cipher(a) is first_a
    assert factory.cipher(b) is not first_b


def test_factory_ciphers_interoperate_with_the_vector_key() -> None:
    cipher = AesGcmCipherFactory().cipher(MasterKey(_key(V1_KEY)))
    assert cipher.decrypt(V1_BLOB) == "Buy milk"
    assert cipher.decrypt(cipher.encrypt({"a": [1, 2]})) == {"a": [1, 2]}
