import io
import json
from pathlib import Path

import pytest

from mana.adapters.jwks_verifier import JwksTokenVerifier, StaticJwksSource
from mana.adapters.local_issuer import LocalTokenIssuer
from mana.adapters.memory import SystemClock
from mana.application.catalog import Catalog
from mana.entrypoints.cli import claude_add_command, main, mcp_config


def run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, env=env, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_tools_plain_and_json_without_touching_a_data_dir(tmp_path: Path) -> None:
    env = {"MANA_DATA_DIR": str(tmp_path / "never")}
    status, out, err = run(["tools"], env)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 11
    assert lines[0] == "habits_create   Create habit"
    assert lines[-1] == "todo_complete   Complete task"
    status, out, _ = run(["tools", "--json"], env)
    listed = json.loads(out)
    published = Catalog().published
    assert [t["name"] for t in listed] == [t.name for t in published]
    for entry, tool in zip(listed, published, strict=True):
        assert entry == {
            "name": tool.name,
            "canonicalName": tool.canonical_name,
            "title": tool.title,
            "description": tool.description,
            "annotations": tool.annotations,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
        }
    assert not (tmp_path / "never").exists()


def test_tools_follow_the_naming_configuration() -> None:
    status, out, _ = run(["tools", "--json"], {"MANA_TOOL_NAMES": "dotted", "MANA_ALLOW_DESTRUCTIVE": "x.y"})
    assert status == 0
    assert [t["name"] for t in json.loads(out)][:2] == ["habits.create", "habits.list"]


def test_token_prints_a_verifiable_token_user_and_space(tmp_path: Path) -> None:
    env = {"MANA_DATA_DIR": str(tmp_path), "PORT": "4100"}
    status, out, err = run(["token", "--user", "ana", "--ttl", "5"], env)
    assert (status, err) == (0, "")
    _token, user, space = out.splitlines()
    status, again, _ = run(["token", "--user", "ana", "--json"], env)
    payload = json.loads(again)
    assert status == 0
    assert set(payload) == {"token", "user", "space", "url"}
    assert (payload["user"], payload["space"], payload["url"]) == (user, space, "http://localhost:4100/mcp")
    status, config, _ = run(["token", "--user", "ana", "--mcp-config"], env)
    assert status == 0
    server = json.loads(config)["mcpServers"]["mana"]
    assert server["type"] == "http"
    assert server["url"] == "http://localhost:4100/mcp"
    assert server["headers"]["X-Mana-Space"] == space
    assert server["headers"]["Authorization"].startswith("Bearer ey")


async def test_the_printed_token_passes_the_gateway_checks(tmp_path: Path) -> None:
    env = {"MANA_DATA_DIR": str(tmp_path)}
    _, out, _ = run(["token", "--user", "ben", "--ttl", "1"], env)
    token, user, _space = out.splitlines()
    issuer = LocalTokenIssuer(tmp_path, "http://localhost:3069", "mana")
    verifier = JwksTokenVerifier(StaticJwksSource(issuer.jwks()), audience="mana", clock=SystemClock())
    verified = await verifier.verify(token)
    assert verified.subject == user
    assert verified.issuer == "http://localhost:3069"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["token", "--user", "x"],
            {"MANA_AUTH_URL": "http://a", "MANA_SYNC_URL": "http://s"},
            "token works only in local mode",
        ),
        (["token", "--user", "x", "--ttl", "0"], {}, "--ttl must be a positive number of minutes"),
        (["token", "--user", "   "], {}, "--user: a local user name must be 1-"),
        (["token"], {}, "the following arguments are required: --user"),
        (
            ["token", "--user", "x", "--json", "--mcp-config"],
            {},
            "argument --mcp-config: not allowed with argument --json",
        ),
        (
            ["tools"],
            {"MANA_POLICY_MODE": "lax"},
            "MANA_POLICY_MODE must be one of enforce, log-only, off (got 'lax')",
        ),
        (["serve"], {"MANA_SYNC_URL": "http://s"}, "MANA_AUTH_URL and MANA_SYNC_URL must both be set"),
        (["frobnicate"], {}, "argument command: invalid choice"),
    ],
)
def test_errors_are_one_line_with_status_2(
    tmp_path: Path, argv: list[str], env: dict[str, str], message: str
) -> None:
    status, out, err = run(argv, {"MANA_DATA_DIR": str(tmp_path / "d"), **env})
    assert status == 2
    assert out == ""
    assert err.startswith(f"mana-mcp: {message}")
    assert err.count("\n") == 1


def test_client_configuration_helpers_quote_for_a_shell() -> None:
    assert mcp_config("http://localhost:3069/mcp", "t.k.n", "sp") == {
        "mcpServers": {
            "mana": {
                "type": "http",
                "url": "http://localhost:3069/mcp",
                "headers": {"Authorization": "Bearer t.k.n", "X-Mana-Space": "sp"},
            }
        }
    }
    assert claude_add_command("http://localhost:3069/mcp", "t.k.n", "sp") == (
        "claude mcp add --transport http mana http://localhost:3069/mcp "
        "--header 'Authorization: Bearer t.k.n' --header 'X-Mana-Space: sp'"
    )


def test_an_unusable_data_directory_is_one_line_with_status_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    status, out, err = run(["token", "--user", "ana"], {"MANA_DATA_DIR": str(blocker)})
    assert status == 1
    assert out == ""
    assert err.startswith(f"mana-mcp: cannot use the local data directory {blocker}: ")
    assert err.count("\n") == 1


def test_serving_settles_the_start_up_heap_out_of_the_collectors_sight() -> None:
    import gc

    from mana.entrypoints.cli import settle_heap

    try:
        settle_heap()
        assert gc.get_freeze_count() > 10_000  # the imported modules and everything built at start
    finally:
        gc.unfreeze()
