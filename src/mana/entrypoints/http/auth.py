"""The HTTP side of authentication: reading the bearer header and writing the 401 challenge (§4).

The token checks themselves (structure, EdDSA, JWKS, claims) are the ``TokenVerifier`` port's.
"""

from __future__ import annotations

MAX_TOKEN_LENGTH = 8192
MISSING_HEADER = "Missing or malformed Authorization header"


def bearer_token(header: bytes | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None when absent or malformed.

    Scheme case-insensitive, one or more spaces, a non-empty token of at most 8192 characters.
    """
    if header is None or len(header) < 8 or header[:6].lower() != b"bearer" or header[6:7] != b" ":
        return None
    token = header[7:].lstrip(b" ")
    if not token or len(token) > MAX_TOKEN_LENGTH or b" " in token:
        return None
    try:
        return token.decode("ascii")
    except UnicodeDecodeError:
        return None


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Challenge:
    """Builds ``WWW-Authenticate`` values; ``resource_metadata`` only when authorization servers are set."""

    def __init__(self, resource_metadata_url: str | None) -> None:
        self._suffix = (
            f", resource_metadata={_quoted(resource_metadata_url)}" if resource_metadata_url else ""
        )
        self._no_token = f'Bearer realm="mana-mcp"{self._suffix}'.encode("latin-1")

    def no_token(self) -> bytes:
        return self._no_token

    def invalid_token(self, description: str) -> bytes:
        value = f'Bearer realm="mana-mcp", error="invalid_token", error_description={_quoted(description)}'
        return (value + self._suffix).encode("latin-1", "replace")
