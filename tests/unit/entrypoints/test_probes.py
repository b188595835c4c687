from mana.entrypoints.probes import always_ready, flag, http_status


async def test_flag_checks_report_their_reason() -> None:
    assert await flag(lambda: True, "database error")() is None
    assert await flag(lambda: False, "database error")() == "database error"
    assert await flag(lambda: False, "no usable key", blocking=True)() == "no usable key"


async def test_http_status_checks() -> None:
    async def answer(value: int | str) -> int | str:
        return value

    assert await http_status(lambda: answer(200))() is None
    assert await http_status(lambda: answer(404))() is None  # any status below 500 is alive
    assert await http_status(lambda: answer(503))() == "HTTP 503"
    assert await http_status(lambda: answer("timeout"))() == "timeout"
    assert await always_ready()() is None
