from prometheus_client.parser import text_string_to_metric_families

from mana.entrypoints.http.metrics import BUCKETS, GatewayMetrics


def samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_tool_calls_are_counted_and_timed_per_tool_and_outcome() -> None:
    m = GatewayMetrics(frozenset({"habits.create"}))
    for outcome, duration in (("success", 0.003), ("success", 0.2), ("input_invalid", 0.001)):
        m.tool_finished(
            tool="habits.create",
            outcome=outcome,
            duration_s=duration,
            user_id="u",
            space_id="s",
            client_name=None,
            request_id="r",
            error_code=None,
        )
    m.tool_finished(
        tool="nope.unknown",
        outcome="success",
        duration_s=0.1,
        user_id="u",
        space_id="s",
        client_name=None,
        request_id="r",
        error_code=None,
    )
    got = samples(m)
    assert got[("mana_mcp_tool_invocations_total", (("outcome", "success"), ("tool", "habits.create")))] == 2
    assert (
        got[("mana_mcp_tool_invocations_total", (("outcome", "input_invalid"), ("tool", "habits.create")))]
        == 1
    )
    labels = (("outcome", "success"), ("tool", "habits.create"))
    assert got[("mana_mcp_tool_duration_seconds_count", labels)] == 2
    assert got[("mana_mcp_tool_duration_seconds_bucket", (("le", "0.005"), *labels))] == 1
    assert got[("mana_mcp_tool_duration_seconds_bucket", (("le", "0.25"), *labels))] == 2
    assert not any(labels and dict(labels).get("tool") == "nope.unknown" for _, labels in got)


def test_buckets_are_the_specified_ones() -> None:
    m = GatewayMetrics(frozenset())
    m.upstream_request(upstream="sync_pull", status="200", duration_s=0.02)
    les = sorted(
        float(dict(labels)["le"])
        for (name, labels) in samples(m)
        if name == "mana_mcp_upstream_request_duration_seconds_bucket"
    )
    assert les == [*BUCKETS, float("inf")]


def test_upstream_key_cache_and_policy_series_keep_label_sets_bounded() -> None:
    m = GatewayMetrics(frozenset())
    m.upstream_request(upstream="auth_jwks", status="timeout", duration_s=3.0)
    m.upstream_request(upstream="sync_push", status="502", duration_s=0.1)
    m.upstream_request(upstream="somewhere", status="200", duration_s=0.1)
    m.upstream_request(upstream="sync_push", status="weird", duration_s=0.1)
    m.key_lookup("hit")
    m.key_lookup("hit")
    m.key_lookup("bogus")
    m.policy_decision(tool="t", decision="deny", reason="rate-limit-exceeded", user_id="u", detail=None)
    m.policy_decision(tool="t", decision="maybe", reason="clean", user_id="u", detail=None)
    got = samples(m)
    assert (
        got[
            (
                "mana_mcp_upstream_request_duration_seconds_count",
                (("status", "timeout"), ("upstream", "auth_jwks")),
            )
        ]
        == 1
    )
    assert (
        got[
            (
                "mana_mcp_upstream_request_duration_seconds_count",
                (("status", "502"), ("upstream", "sync_push")),
            )
        ]
        == 1
    )
    upstream_series = {
        labels for name, labels in got if name == "mana_mcp_upstream_request_duration_seconds_count"
    }
    assert len(upstream_series) == 2
    assert got[("mana_mcp_master_key_cache_total", (("result", "hit"),))] == 2
    assert ("mana_mcp_master_key_cache_total", (("result", "bogus"),)) not in got
    assert (
        got[("mana_mcp_policy_decisions_total", (("decision", "deny"), ("reason", "rate-limit-exceeded")))]
        == 1
    )
    assert len({labels for name, labels in got if name == "mana_mcp_policy_decisions_total"}) == 1


def test_sessions_gauge_reads_the_owner_map_and_default_collectors_stay() -> None:
    open_sessions = [3]
    m = GatewayMetrics(frozenset(), sessions_open=lambda: open_sessions[0])
    assert samples(m)[("mana_mcp_sessions_open", ())] == 3
    open_sessions[0] = 0
    text = m.render().decode()
    assert "mana_mcp_sessions_open 0.0" in text
    assert "python_info" in text
    assert "python_gc_objects_collected_total" in text


def test_two_apps_never_share_counters() -> None:
    a, b = GatewayMetrics(frozenset()), GatewayMetrics(frozenset())
    a.key_lookup("miss")
    assert ("mana_mcp_master_key_cache_total", (("result", "miss"),)) not in samples(b)
