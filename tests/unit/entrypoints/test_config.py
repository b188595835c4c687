from pathlib import Path

import pytest

from mana.entrypoints.config import ConfigError, load_settings

REMOTE = {"MANA_AUTH_URL": "https://auth.example.org/", "MANA_SYNC_URL": "https://sync.example.org"}


def test_defaults_select_local_mode_on_loopback() -> None:
    s = load_settings({})
    assert s.mode == "local"
    assert (s.host, s.port) == ("127.0.0.1", 3069)
    assert s.public_url == "http://localhost:3069"
    assert s.mcp_url == "http://localhost:3069/mcp"
    assert s.jwt_audience == "mana"
    assert s.jwt_issuer is None
    assert s.cors_origins == ("http://localhost:5173",)
    assert s.space_check
    assert s.tool_names == "underscore"
    assert s.policy_mode == "enforce"
    assert s.rate_limit == 30
    assert s.allow_destructive == frozenset()
    assert s.data_dir == Path(".mana")
    assert s.log_level == "info"
    assert s.authorization_servers == ()
    assert s.resource_metadata_url is None
    assert s.local_issuer == "http://localhost:3069"


def test_remote_mode_binds_all_interfaces_and_strips_trailing_slashes() -> None:
    s = load_settings(REMOTE)
    assert s.mode == "remote"
    assert s.host == "0.0.0.0"
    assert s.auth_url == "https://auth.example.org"
    assert s.sync_url == "https://sync.example.org"


@pytest.mark.parametrize("only", ["MANA_AUTH_URL", "MANA_SYNC_URL"])
def test_exactly_one_upstream_is_a_startup_error(only: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({only: REMOTE[only]})
    assert str(err.value) == (
        "MANA_AUTH_URL and MANA_SYNC_URL must both be set (remote mode) or both be unset (local mode)"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "0"),
        ("PORT", "65536"),
        ("MANA_RATE_LIMIT", "-1"),
        ("MANA_RATE_LIMIT", "ten"),
        ("MANA_SPACE_CHECK", "maybe"),
        ("MANA_TOOL_NAMES", "camel"),
        ("MANA_POLICY_MODE", "strict"),
        ("LOG_LEVEL", "verbose"),
        ("MANA_PUBLIC_URL", "ftp://x"),
        ("MANA_AUTH_URL", "not a url"),
        ("CORS_ORIGINS", "*"),
        ("CORS_ORIGINS", "https://ok.example, https://bad.example/path"),
        ("MANA_AUTHORIZATION_SERVERS", "auth.example.org"),
    ],
)
def test_a_bad_value_names_the_variable_on_one_line(name: str, value: str) -> None:
    env = {name: value}
    if name == "MANA_AUTH_URL":
        env["MANA_SYNC_URL"] = "https://sync.example.org"
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    message = str(err.value)
    assert message.startswith(name)
    assert "\n" not in message


def test_service_key_is_never_echoed_or_printed() -> None:
    s = load_settings({**REMOTE, "MANA_SERVICE_KEY": "sk-secret-value"})
    assert s.service_key == "sk-secret-value"
    assert "sk-secret-value" not in repr(s)


def test_lists_are_trimmed_and_empty_entries_dropped() -> None:
    s = load_settings(
        {
            "CORS_ORIGINS": " https://a.example , ,http://localhost:8080",
            "MANA_ALLOW_DESTRUCTIVE": "notes.delete, ,todo.purge",
            "MANA_AUTHORIZATION_SERVERS": "https://auth.example.org/,https://idp.example.org",
        }
    )
    assert s.cors_origins == ("https://a.example", "http://localhost:8080")
    assert s.allow_destructive == frozenset({"notes.delete", "todo.purge"})
    assert s.authorization_servers == ("https://auth.example.org", "https://idp.example.org")
    assert s.resource_metadata_url == "http://localhost:3069/.well-known/oauth-protected-resource/mcp"


def test_choices_are_case_insensitive_and_blank_means_unset() -> None:
    s = load_settings({"MANA_POLICY_MODE": "LOG-ONLY", "MANA_SPACE_CHECK": "Off", "PORT": " ", "HOST": ""})
    assert s.policy_mode == "log-only"
    assert not s.space_check
    assert s.port == 3069
    assert s.host == "127.0.0.1"


def test_public_url_and_issuer() -> None:
    s = load_settings(
        {"PORT": "4000", "MANA_PUBLIC_URL": "https://mcp.example.org/", "JWT_ISSUER": "https://i"}
    )
    assert s.public_url == "https://mcp.example.org"
    assert s.mcp_url == "https://mcp.example.org/mcp"
    assert s.local_issuer == "https://i"
    assert load_settings({"PORT": "4000"}).public_url == "http://localhost:4000"


def test_allowed_origins_add_the_gateways_own_origin() -> None:
    s = load_settings({"CORS_ORIGINS": "https://app.example.org"})
    assert s.allowed_origins == frozenset({"https://app.example.org", "http://localhost:3069"})


def test_cli_overrides_win_over_the_environment() -> None:
    s = load_settings({"PORT": "4000"}, overrides={"PORT": "5000", "MANA_DATA_DIR": "/tmp/x"})
    assert s.port == 5000
    assert s.data_dir == Path("/tmp/x")


def test_one_worker_with_stateful_legacy_sessions_by_default() -> None:
    s = load_settings({})
    assert (s.workers, s.legacy_sessions) == (1, "stateful")


def test_several_workers_need_stateless_legacy_sessions() -> None:
    with pytest.raises(ConfigError, match="MANA_WORKERS > 1 needs MANA_LEGACY_SESSIONS=stateless"):
        load_settings({"MANA_WORKERS": "2"})
    s = load_settings({"MANA_WORKERS": "2", "MANA_LEGACY_SESSIONS": "Stateless"})
    assert (s.workers, s.legacy_sessions) == (2, "stateless")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MANA_WORKERS", "0"),
        ("MANA_WORKERS", "65"),
        ("MANA_WORKERS", "two"),
        ("MANA_LEGACY_SESSIONS", "sticky"),
    ],
)
def test_bad_worker_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(
            {name: value, "MANA_LEGACY_SESSIONS": "stateless"} if name == "MANA_WORKERS" else {name: value}
        )
