"""The per-call pipeline of tools.md §1.6: resolve, validate, policy, context, run, map, observe.

Every entrypoint calls tools through :class:`CatalogToolService`, so validation, the policy gate,
error messages and metrics are the same whether the call came over MCP, from the test harness or
from a later REST entrypoint.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from mana.application.catalog import Catalog, ToolSpec
from mana.application.context import ToolContext
from mana.application.errors import (
    AuthUnauthorized,
    KeyUnavailable,
    SpacesUnavailable,
    SyncInactive,
    SyncReadFailed,
    SyncUnauthorized,
    SyncWriteFailed,
    ToolError,
    UpstreamFailure,
    VaultNotInitialised,
    ZeroKnowledge,
)
from mana.application.invocation import Invocation, PublishedTool, ToolResult, UnknownTool
from mana.application.policy import PolicyGate
from mana.application.ports import Clock, ToolObserver
from mana.application.schema import ArgumentError, to_wire
from mana.domain.changes import Actor
from mana.domain.text import actor_display_name
from mana.domain.timestamps import truncate_to_ms

log = logging.getLogger(__name__)

NOTHING_WRITTEN = " Nothing was written."


class UseCase(Protocol):
    async def __call__(self, ctx: ToolContext, args: Any) -> Any: ...


def encode_result(structured: Any) -> str:
    """Compact UTF-8 JSON, the text block of every successful result (tools.md §1.5)."""
    return json.dumps(structured, ensure_ascii=False, separators=(",", ":"))


class CatalogToolService:
    def __init__(
        self,
        catalog: Catalog,
        use_cases: Mapping[str, UseCase],
        policy: PolicyGate,
        clock: Clock,
        observer: ToolObserver | None = None,
    ) -> None:
        missing = [spec.name for spec in catalog.tools if spec.name not in use_cases]
        if missing:
            raise ValueError(f"no use case bound for {', '.join(missing)}")
        self._catalog = catalog
        self._use_cases = use_cases
        self._policy = policy
        self._clock = clock
        self._observer = observer

    def published_tools(self) -> Sequence[PublishedTool]:
        return self._catalog.published

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        spec = self._catalog.resolve(name)
        return None if spec is None else spec.input_model.schema

    async def call(
        self, name: str, arguments: Mapping[str, Any] | None, invocation: Invocation
    ) -> ToolResult:
        spec = self._catalog.resolve(name)
        if spec is None:
            raise UnknownTool(name)
        started = self._clock.monotonic()
        outcome = "success"
        code: str | None = None
        try:
            result = await self._run(spec, name, arguments, invocation)
        except ToolError as error:
            outcome, code = error.outcome, error.code
            result = ToolResult(text=error.message, is_error=True, error_code=error.code)
        except UpstreamFailure as failure:
            mapped = describe_failure(failure, spec, name, invocation.request_id)
            outcome, code = mapped.outcome, mapped.code
            result = ToolResult(text=mapped.message, is_error=True, error_code=mapped.code)
        except Exception:
            log.exception("tool failed", extra={"tool": spec.name, "request_id": invocation.request_id})
            outcome, code = "internal_error", "internal"
            result = ToolResult(
                text=f"Internal error in {name}; reference {invocation.request_id}.",
                is_error=True,
                error_code="internal",
            )
        if self._observer is not None:
            self._observer.tool_finished(
                tool=spec.name,
                outcome=outcome,
                duration_s=self._clock.monotonic() - started,
                user_id=invocation.caller.user_id,
                space_id=invocation.space_id,
                client_name=invocation.client_name,
                request_id=invocation.request_id,
                error_code=code,
            )
        return result

    async def _run(
        self, spec: ToolSpec, name: str, arguments: Mapping[str, Any] | None, invocation: Invocation
    ) -> ToolResult:
        try:
            args = spec.input_model.parse(arguments)
        except ArgumentError as invalid:
            raise ToolError(
                "input_invalid", f"Invalid arguments for {name}: {invalid}", "input_invalid"
            ) from None
        self._policy.check(spec, name, invocation.caller.user_id, arguments or {})
        ctx = ToolContext(
            caller=invocation.caller,
            space_id=invocation.space_id,
            now=truncate_to_ms(self._clock.now()),
            actor=agent_actor(invocation.client_name),
            request_id=invocation.request_id,
            tool_name=name,
        )
        output = await self._use_cases[spec.name](ctx, args)
        structured = to_wire(output)
        return ToolResult(text=encode_result(structured), structured=structured)


@functools.lru_cache(maxsize=1024)
def _agent_actor(client_name: str | None) -> Actor:
    return Actor("system", "system:mcp", actor_display_name(client_name))


def agent_actor(client_name: str | None) -> Actor:
    """The actor of every change a call writes (D2); one immutable value per client name."""
    if client_name is None or (isinstance(client_name, str) and len(client_name) <= 256):
        return _agent_actor(client_name)
    return Actor("system", "system:mcp", actor_display_name(client_name))


def describe_failure(failure: UpstreamFailure, spec: ToolSpec, name: str, request_id: str) -> ToolError:
    """The tool error of tools.md §1.9 for an upstream failure; ``<writes>`` only for write tools."""
    writes = NOTHING_WRITTEN if spec.is_write else ""
    if isinstance(failure, ZeroKnowledge):
        return ToolError(
            "zero_knowledge",
            "This account uses zero-knowledge encryption, so the gateway cannot read or write its encrypted "
            f"fields; use the Mana app for them.{writes}",
            "tool_error",
        )
    if isinstance(failure, VaultNotInitialised):
        return ToolError(
            "vault_not_initialised",
            "The encryption vault of this account is not set up yet; open the Mana app once to set it up, "
            f"then try again.{writes}",
            "tool_error",
        )
    if isinstance(failure, SyncInactive):
        return ToolError(
            "sync_inactive",
            f"Cloud sync is not active for this account, so mana-sync refused the request.{writes}",
            "tool_error",
        )
    if isinstance(failure, SyncUnauthorized):
        return ToolError(
            "upstream_unauthorized",
            f"mana-sync rejected the access token; refresh the token and try again.{writes}",
            "upstream_error",
        )
    if isinstance(failure, AuthUnauthorized):
        return ToolError(
            "upstream_unauthorized",
            f"mana-auth rejected the access token; refresh the token and try again.{writes}",
            "upstream_error",
        )
    if isinstance(failure, KeyUnavailable):
        return ToolError(
            "key_unavailable",
            f"Could not get the encryption key from mana-auth ({failure.reason}); try again later.{writes}",
            "upstream_error",
        )
    if isinstance(failure, SyncReadFailed):
        collection = failure.collection or spec.module
        return ToolError(
            "sync_read_failed",
            f"Could not read {collection} from mana-sync ({failure.reason}); try again later.{writes}",
            "upstream_error",
        )
    if isinstance(failure, SyncWriteFailed):
        if failure.maybe_written:
            message = (
                f"mana-sync did not confirm the change ({failure.reason}); it may or may not have been "
                "saved, so list before retrying."
            )
        else:
            message = f"Could not save the change to mana-sync ({failure.reason}). Nothing was written."
        return ToolError("sync_write_failed", message, "upstream_error")
    if isinstance(failure, SpacesUnavailable):
        return ToolError(
            "spaces_unavailable",
            f"Could not list spaces from mana-auth ({failure.reason}); try again later.",
            "upstream_error",
        )
    log.error(
        "unmapped upstream failure", extra={"failure": type(failure).__name__, "request_id": request_id}
    )
    return ToolError("internal", f"Internal error in {name}; reference {request_id}.", "internal_error")
