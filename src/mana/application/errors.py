"""Failures that cross the ports, and the tool errors the use cases turn them into.

Adapters raise the upstream failures below (never their own exception types). Messages never
carry a token, key material, an upstream body or another record's data.
"""

from __future__ import annotations

from typing import Literal

Outcome = Literal[
    "success", "input_invalid", "policy_denied", "tool_error", "upstream_error", "internal_error"
]

Reason = str
"""``HTTP <status>``, ``timeout``, ``connection failed``, ``invalid response`` (tools.md §1.9)."""


class UpstreamFailure(Exception):
    """Base of every failure an adapter reports through a port."""


# --- mana-sync -------------------------------------------------------------------------------


class SyncUnauthorized(UpstreamFailure):
    """mana-sync answered 401: the token was rejected."""


class SyncInactive(UpstreamFailure):
    """mana-sync answered 402 ``sync_inactive``."""


class SyncReadFailed(UpstreamFailure):
    """A pull failed; ``collection`` is filled in by the read path when the adapter did not know it."""

    def __init__(self, reason: Reason, collection: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.collection = collection


class SyncWriteFailed(UpstreamFailure):
    """A push failed. ``maybe_written`` is True when the request was sent but not confirmed."""

    def __init__(self, reason: Reason, *, maybe_written: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_written = maybe_written


# --- mana-auth -------------------------------------------------------------------------------


class AuthUnauthorized(UpstreamFailure):
    """mana-auth answered 401 to the caller's token."""


class ZeroKnowledge(UpstreamFailure):
    """The account keeps no server-side key: encrypted fields cannot be read or written."""


class VaultNotInitialised(UpstreamFailure):
    """The account's encryption vault was never created."""


class KeyUnavailable(UpstreamFailure):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason = reason


class SpacesUnavailable(UpstreamFailure):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason = reason


# --- crypto ----------------------------------------------------------------------------------


class DecryptFailed(Exception):
    """A stored value could not be decrypted; carries only a category, never data."""

    def __init__(
        self, category: Literal["malformed", "authentication failed", "not JSON", "unsupported version"]
    ):
        super().__init__(category)
        self.category = category


# --- tool errors -----------------------------------------------------------------------------


class ToolError(Exception):
    """A failure reported to the agent as an ``isError`` result with a stable code (tools.md §1.9)."""

    def __init__(self, code: str, message: str, outcome: Outcome) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.outcome = outcome


# --- authentication --------------------------------------------------------------------------


class InvalidToken(Exception):
    """401. ``message`` is the JSON error of gateway-http.md §4 (e.g. ``Invalid token: expired``);
    ``description`` the short ``error_description`` of the challenge (e.g. ``token expired``)."""

    def __init__(self, message: str, description: str) -> None:
        super().__init__(message)
        self.message = message
        self.description = description


class VerificationUnavailable(Exception):
    """503: no key set was ever fetched, so no token can be checked."""
