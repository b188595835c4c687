"""The caller's master key from mana-auth's encryption vault (mana-auth.md §4).

Every call writes an audit row at mana-auth, so this adapter is always used behind
:class:`~mana.adapters.key_cache.CachingKeyVault`. It never retries and never calls ``init`` (that
would mint a key on the user's behalf). Key bytes never reach a log line or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Any

import httpx

from mana.adapters.http_client import (
    TOTAL_TIMEOUT_S,
    TransportFailure,
    join_url,
    send_timed,
    upstream_request,
)
from mana.application.errors import AuthUnauthorized, KeyUnavailable, VaultNotInitialised, ZeroKnowledge
from mana.application.ports import Caller, MasterKey, UpstreamObserver

log = logging.getLogger(__name__)

KEY_PATH = "/api/v1/me/encryption-vault/key"
_STANDARD_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")


def decode_master_key(value: str) -> MasterKey:
    """Standard base64 (re-padded when the padding is missing) of exactly 32 bytes.

    URL-safe characters are rejected rather than translated: a key in another alphabet is a
    server bug, and guessing could silently encrypt under the wrong key.
    """
    text = value.strip()
    if not _STANDARD_B64.match(text):
        raise KeyUnavailable("invalid key")
    text = text.rstrip("=")
    text += "=" * (-len(text) % 4)
    try:
        material = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyUnavailable("invalid key") from None
    if len(material) != 32:
        log.warning(
            "mana-auth sent a master key of the wrong size: expected 32-byte master key, got %d",
            len(material),
        )
        raise KeyUnavailable("invalid key")
    return MasterKey(material)


class HttpKeyVault:
    """:class:`~mana.application.ports.KeyVault` on ``GET /api/v1/me/encryption-vault/key``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        auth_url: str,
        observer: UpstreamObserver,
        *,
        total_timeout_s: float = TOTAL_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._url = httpx.URL(join_url(auth_url, KEY_PATH))
        self._observer = observer
        self._timeout = total_timeout_s

    async def master_key(self, caller: Caller) -> MasterKey:
        request = upstream_request("GET", self._url, {"Authorization": f"Bearer {caller.token}"})
        try:
            response = await send_timed(
                self._client,
                request,
                upstream="auth_vault_key",
                observer=self._observer,
                total_timeout_s=self._timeout,
            )
        except TransportFailure as exc:
            log.warning("mana-auth key request failed: %s", exc.reason)
            raise KeyUnavailable(exc.reason) from None
        status = response.status_code
        if status == 200:
            return self._key_from(response.content)
        if status == 401:
            raise AuthUnauthorized()
        if status == 404 and _json_object(response.content).get("code") == "VAULT_NOT_INITIALISED":
            raise VaultNotInitialised()
        log.warning("mana-auth key request answered HTTP %d", status)
        raise KeyUnavailable(f"HTTP {status}")

    @staticmethod
    def _key_from(content: bytes) -> MasterKey:
        body = _json_object(content, strict=True)
        master_key = body.get("masterKey")
        # Zero-knowledge: the server holds no usable key (there is no ``zeroKnowledge`` field).
        if body.get("requiresRecoveryCode") is True or master_key is None:
            raise ZeroKnowledge()
        if not isinstance(master_key, str):
            raise KeyUnavailable("invalid key")
        return decode_master_key(master_key)


def _json_object(content: bytes, *, strict: bool = False) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    if strict:
        raise KeyUnavailable("invalid response")
    return {}
