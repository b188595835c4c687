"""The six ``mana_mcp_*`` series of gateway-http.md §9, on a registry owned by one app.

A registry per app (not the global one) so two apps in one process, as in the tests, never share
counters. Implements the observer ports the core and the adapters report to. Label values are
bounded sets: anything outside them is dropped rather than creating a new series.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

OUTCOMES = frozenset(
    {"success", "input_invalid", "policy_denied", "tool_error", "upstream_error", "internal_error"}
)
UPSTREAMS = frozenset({"sync_pull", "sync_push", "auth_jwks", "auth_vault_key", "auth_spaces", "sync_health"})
KEY_RESULTS = frozenset({"hit", "miss", "shared", "zero_knowledge_hit", "error"})
DECISIONS = frozenset({"allow", "deny", "would_deny", "flagged"})
REASONS = frozenset(
    {
        "clean",
        "admin-scope-not-invokable",
        "destructive-not-allowed",
        "rate-limit-exceeded",
        "injection-marker",
    }
)


class GatewayMetrics:
    """ToolObserver, UpstreamObserver and KeyCacheObserver in one, plus the sessions gauge."""

    def __init__(self, known_tools: frozenset[str], sessions_open: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._known_tools = known_tools
        reg = self.registry
        self._invocations = Counter(
            "mana_mcp_tool_invocations_total", "Tool calls of known tools.", ("tool", "outcome"), registry=reg
        )
        self._tool_duration = Histogram(
            "mana_mcp_tool_duration_seconds",
            "Wall time from tool resolution to result.",
            ("tool", "outcome"),
            buckets=BUCKETS,
            registry=reg,
        )
        self._upstream = Histogram(
            "mana_mcp_upstream_request_duration_seconds",
            "Each upstream HTTP request.",
            ("upstream", "status"),
            buckets=BUCKETS,
            registry=reg,
        )
        self._sessions = Gauge(
            "mana_mcp_sessions_open", "Entries in the legacy session owner map.", registry=reg
        )
        if sessions_open is not None:
            self._sessions.set_function(sessions_open)
        self._key_cache = Counter(
            "mana_mcp_master_key_cache_total", "Master-key lookups by result.", ("result",), registry=reg
        )
        self._policy = Counter(
            "mana_mcp_policy_decisions_total", "Policy evaluations.", ("decision", "reason"), registry=reg
        )
        # labels() locks and hashes on every call; the label sets are small and fixed: keep the children.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- ToolObserver ---------------------------------------------------------------------

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
        if tool not in self._known_tools or outcome not in OUTCOMES:
            return
        self._child(self._invocations, tool, outcome).inc()
        self._child(self._tool_duration, tool, outcome).observe(duration_s)

    def policy_decision(
        self, *, tool: str, decision: str, reason: str, user_id: str, detail: str | None
    ) -> None:
        if decision in DECISIONS and reason in REASONS:
            self._child(self._policy, decision, reason).inc()

    # --- UpstreamObserver -----------------------------------------------------------------

    def upstream_request(self, *, upstream: str, status: str, duration_s: float) -> None:
        if upstream in UPSTREAMS and (
            status in ("timeout", "error") or (status.isdigit() and len(status) == 3)
        ):
            self._child(self._upstream, upstream, status).observe(duration_s)

    # --- KeyCacheObserver -----------------------------------------------------------------

    def key_lookup(self, result: str) -> None:
        if result in KEY_RESULTS:
            self._child(self._key_cache, result).inc()
