"""One JSON log line per tool call, and the policy denials (gateway-http.md §9, issue #5).

A line says who (a hash of the user id, never the id itself), where (the active space), what (the
canonical tool name), how it ended (outcome, error code, duration) and through which client (the
cleaned ``clientInfo.name``). Never an argument value, a result, a token or key material: the
observer port does not even receive them.
"""

from __future__ import annotations

import functools
import hashlib
import logging

from mana.domain.text import clean_client_name
from mana.entrypoints.request_context import current_mcp_request

log = logging.getLogger("mana.audit")

_POLICY_EVENTS = {"deny": "DENY", "would_deny": "WOULD-DENY", "flagged": "FLAGGED"}
USER_HASH_DIGITS = 16


@functools.lru_cache(maxsize=10_000)
def user_hash(user_id: str) -> str:
    """The first 16 hex digits of SHA-256 of the user id: a user's lines correlate, the id stays out.

    Operators find a known user's lines with ``printf %s "$SUB" | sha256sum | cut -c1-16``.
    User ids are random UUIDs, so the hash cannot be reversed by guessing.
    """
    return hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[:USER_HASH_DIGITS]


class AuditLog:
    """A ToolObserver that writes the audit trail."""

    def tool_finished(
        self,
        *,
        tool: str,
        outcome: str,
        duration_s: float,
        user_id: str,
        space_id: str,
        client_name: str | None,
        request_id: str,
        error_code: str | None,
    ) -> None:
        request = current_mcp_request.get()
        session = request.session_id[:8] if request is not None and request.session_id else None
        fields: dict[str, object] = {
            "tool": tool,
            "outcome": outcome,
            "duration_ms": round(duration_s * 1000, 3),
            "user": user_hash(user_id),
            "space": space_id,
            "client": clean_client_name(client_name),
            "session": session,
        }
        if error_code is not None:
            fields["error_code"] = error_code
        log.info("tool_call", extra=fields)

    def policy_decision(
        self, *, tool: str, decision: str, reason: str, user_id: str, detail: str | None
    ) -> None:
        event = _POLICY_EVENTS.get(decision)
        if event is None:
            return
        fields: dict[str, object] = {"tool": tool, "user": user_hash(user_id), "reason": reason}
        if detail is not None:
            fields["detail"] = detail
        log.warning(event, extra=fields)
