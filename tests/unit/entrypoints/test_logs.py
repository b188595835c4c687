import io
import json
import logging

from mana.entrypoints.logs import JsonFormatter, request_id_var


def test_json_lines_carry_time_level_request_id_event_and_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mana.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    reset = request_id_var.set("abc123")
    try:
        logger.info("tool_call", extra={"tool": "notes.create", "outcome": "success"})
    finally:
        request_id_var.reset(reset)
    logger.warning("no request")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "abc123"
    assert first["event"] == "tool_call"
    assert first["level"] == "info"
    assert first["tool"] == "notes.create"
    assert first["outcome"] == "success"
    assert first["time"].endswith("Z")
    assert len(first["time"]) == 24
    assert "request_id" not in second
    assert second["level"] == "warning"
