"""One ToolObserver that tells several (the metrics and the audit log), since the core takes one."""

from __future__ import annotations

from mana.application.ports import ToolObserver


class ToolObservers:
    def __init__(self, *observers: ToolObserver) -> None:
        self._observers = observers

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
        for observer in self._observers:
            observer.tool_finished(
                tool=tool,
                outcome=outcome,
                duration_s=duration_s,
                user_id=user_id,
                space_id=space_id,
                client_name=client_name,
                request_id=request_id,
                error_code=error_code,
            )

    def policy_decision(
        self, *, tool: str, decision: str, reason: str, user_id: str, detail: str | None
    ) -> None:
        for observer in self._observers:
            observer.policy_decision(
                tool=tool, decision=decision, reason=reason, user_id=user_id, detail=detail
            )
