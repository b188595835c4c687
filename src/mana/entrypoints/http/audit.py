"""One JSON log line per tool call, and the policy denials (gateway-http.md §9).

Only names, codes, ids and durations are logged: never an argument value, a token or a result.
"""

from __future__ import annotations

import logging

from mana.entrypoints.request_context import current_mcp_request

log = logging.getLogger("mana.audit")

_POLICY_EVENTS = {"deny": "DENY", "would_deny": "WOULD-DENY", "flagged": "FLAGGED"}


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
            "sub": user_id,
            "space": space_id,
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
        fields: dict[str, object] = {"tool": tool, "sub": user_id, "reason": reason}
        if detail is not None:
            fields["detail"] = detail
        log.warning(event, extra=fields)
