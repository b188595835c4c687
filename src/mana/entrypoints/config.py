"""Every environment variable of gateway-http.md §1, parsed once at startup into one value object.

A bad value stops startup with one line naming the variable and what it accepts (exit status 2 in
the CLI); nothing downstream re-reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, cast
from urllib.parse import urlsplit

import attrs

Mode = Literal["local", "remote"]
ToolNames = Literal["underscore", "dotted"]
PolicyMode = Literal["enforce", "log-only", "off"]
LogLevel = Literal["debug", "info", "warning", "error"]
LegacySessions = Literal["stateful", "stateless"]

DEFAULT_PORT = 3069
DEFAULT_CORS_ORIGINS = ("http://localhost:5173",)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class ConfigError(Exception):
    """A bad configuration value; ``str()`` is the one-line message for the operator."""


@attrs.frozen(slots=True)
class Settings:
    mode: Mode
    port: int
    host: str
    public_url: str
    auth_url: str | None
    sync_url: str | None
    jwt_audience: str
    jwt_issuer: str | None
    authorization_servers: tuple[str, ...]
    cors_origins: tuple[str, ...]
    service_key: str | None = attrs.field(repr=False)
    space_check: bool
    tool_names: ToolNames
    allow_destructive: frozenset[str]
    policy_mode: PolicyMode
    rate_limit: int
    data_dir: Path
    log_level: LogLevel
    workers: int = 1
    """Worker processes sharing the port (``MANA_WORKERS``); more than one needs stateless legacy sessions."""
    legacy_sessions: LegacySessions = "stateful"
    """``stateful``: legacy-era sessions live in this process (D11); ``stateless``: every legacy POST
    stands alone (no ``initialize`` needed, no session id, no GET stream), so any worker can serve it."""

    @property
    def mcp_url(self) -> str:
        return f"{self.public_url}/mcp"

    @property
    def resource_metadata_url(self) -> str | None:
        """Only when authorization servers are configured (gateway-http.md §3.3, §4)."""
        if not self.authorization_servers:
            return None
        return f"{self.public_url}/.well-known/oauth-protected-resource/mcp"

    @property
    def local_issuer(self) -> str:
        """The ``iss`` of local dev tokens (gateway-http.md §2)."""
        return self.jwt_issuer or self.public_url

    @property
    def binds_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS

    @property
    def allowed_origins(self) -> frozenset[str]:
        """``CORS_ORIGINS`` plus the gateway's own origin (a same-origin page is never a rebinding attack)."""
        return frozenset((*self.cors_origins, _origin_of(self.public_url)))


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _get(env: Mapping[str, str], name: str) -> str | None:
    """An unset or blank variable is absent: ``FOO=`` in a compose file means "not configured"."""
    value = env.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = _get(env, name)
    if raw is None:
        return default
    value = raw.lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {raw!r})")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int | None, what: str) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise ConfigError(f"{name} must be {what} (got {raw!r})") from None
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{name} must be {what} (got {raw!r})")
    return value


def _csv(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) URL without query or fragment (got {raw!r})")
    return raw.rstrip("/")


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    raw = _get(env, name)
    return None if raw is None else _http_url(name, raw)


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("CORS_ORIGINS")
    if raw is None:
        return DEFAULT_CORS_ORIGINS
    origins = _csv(raw)
    for origin in origins:
        if origin == "*":
            raise ConfigError("CORS_ORIGINS must list exact origins; '*' is not accepted")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise ConfigError(
                f"CORS_ORIGINS entries must be origins like https://app.example.org (got {origin!r})"
            )
    return origins


def load_settings(env: Mapping[str, str], *, overrides: Mapping[str, str] | None = None) -> Settings:
    """Parse ``env`` (plus CLI ``overrides``, which win) or raise :class:`ConfigError`."""
    if overrides:
        env = {**env, **overrides}
    auth_url = _optional_url(env, "MANA_AUTH_URL")
    sync_url = _optional_url(env, "MANA_SYNC_URL")
    if (auth_url is None) != (sync_url is None):
        raise ConfigError(
            "MANA_AUTH_URL and MANA_SYNC_URL must both be set (remote mode) or both be unset (local mode)"
        )
    mode: Mode = "remote" if auth_url else "local"
    port = _integer(env, "PORT", DEFAULT_PORT, 1, 65535, "an integer 1-65535")
    host = _get(env, "HOST") or ("0.0.0.0" if mode == "remote" else "127.0.0.1")
    public_raw = _get(env, "MANA_PUBLIC_URL")
    public_url = _http_url("MANA_PUBLIC_URL", public_raw) if public_raw else f"http://localhost:{port}"
    audience = _get(env, "JWT_AUDIENCE") or "mana"
    workers = _integer(env, "MANA_WORKERS", 1, 1, 64, "an integer 1-64")
    legacy_sessions = cast(
        LegacySessions, _choice(env, "MANA_LEGACY_SESSIONS", "stateful", ("stateful", "stateless"))
    )
    if workers > 1 and legacy_sessions == "stateful":
        raise ConfigError(
            "MANA_WORKERS > 1 needs MANA_LEGACY_SESSIONS=stateless: legacy sessions live in the process "
            "that opened them (for stateful sessions run one worker per process behind a "
            "session-affine balancer)"
        )
    return Settings(
        mode=mode,
        port=port,
        host=host,
        public_url=public_url,
        auth_url=auth_url,
        sync_url=sync_url,
        jwt_audience=audience,
        jwt_issuer=_get(env, "JWT_ISSUER"),
        authorization_servers=tuple(
            _http_url("MANA_AUTHORIZATION_SERVERS", url)
            for url in _csv(_get(env, "MANA_AUTHORIZATION_SERVERS"))
        ),
        cors_origins=_origins(env),
        service_key=_get(env, "MANA_SERVICE_KEY"),
        space_check=_choice(env, "MANA_SPACE_CHECK", "on", ("on", "off")) == "on",
        tool_names=cast(ToolNames, _choice(env, "MANA_TOOL_NAMES", "underscore", ("underscore", "dotted"))),
        allow_destructive=frozenset(_csv(_get(env, "MANA_ALLOW_DESTRUCTIVE"))),
        policy_mode=cast(
            PolicyMode, _choice(env, "MANA_POLICY_MODE", "enforce", ("enforce", "log-only", "off"))
        ),
        rate_limit=_integer(env, "MANA_RATE_LIMIT", 30, 0, None, "a non-negative integer"),
        data_dir=Path(_get(env, "MANA_DATA_DIR") or "./.mana"),
        log_level=cast(LogLevel, _choice(env, "LOG_LEVEL", "info", ("debug", "info", "warning", "error"))),
        workers=workers,
        legacy_sessions=legacy_sessions,
    )
