"""The wiring: the only module that names concrete adapters.

:class:`Container` builds the core (catalog, policy gate, use cases, tool service), the
observability (metrics, audit log) and the HTTP gateway over an ``adapters`` container, which is
one of three profiles:

- :class:`LocalAdapters` (D16): the embedded SQLite change log, local users' keys and spaces, and
  the gateway's own Ed25519 dev tokens;
- :class:`RemoteAdapters`: mana-sync and mana-auth over HTTP, with the key, space and pull caches;
- :class:`TestAdapters`: everything in memory (the sync core on lists), dev tokens signed with a
  key under ``MANA_DATA_DIR``.

Everything above the ports is the same code in every profile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import httpx
from dependency_injector import containers, providers

from mana import __version__
from mana.adapters.crypto import AesGcmCipherFactory
from mana.adapters.heap import release_free_memory
from mana.adapters.http_client import TransportFailure, build_client, join_url, send_timed, upstream_request
from mana.adapters.in_process_sync import InProcessChangeLog
from mana.adapters.incremental_reader import IncrementalReader
from mana.adapters.jwks_verifier import JWKS_PATH, HttpJwksSource, JwksTokenVerifier, StaticJwksSource
from mana.adapters.key_cache import CachingKeyVault
from mana.adapters.local_issuer import DEFAULT_TTL_MINUTES, LocalTokenIssuer
from mana.adapters.local_store import LocalDatabase
from mana.adapters.memory import (
    InMemoryKeyVault,
    MemorySyncStore,
    StaticSpaceDirectory,
    SystemClock,
    UuidIdSource,
)
from mana.adapters.space_cache import CachingSpaceDirectory
from mana.adapters.spaces_http import BearerSpaceDirectory, ServiceKeySpaceDirectory
from mana.adapters.sync_core import SyncServer
from mana.adapters.sync_http import HttpChangeLog
from mana.adapters.vault_http import HttpKeyVault
from mana.application.catalog import Catalog
from mana.application.policy import PolicyGate
from mana.application.service import CatalogToolService
from mana.application.usecases import build_use_cases
from mana.entrypoints import probes
from mana.entrypoints.config import Settings
from mana.entrypoints.http.app import Gateway, create_app
from mana.entrypoints.http.audit import AuditLog
from mana.entrypoints.http.lifecycle import Lifecycle
from mana.entrypoints.http.metrics import GatewayMetrics
from mana.entrypoints.http.readiness import CHECK_BUDGET_S, Check
from mana.entrypoints.http.sessions import SessionOwners
from mana.entrypoints.http.spaces import AnySpace
from mana.entrypoints.observers import ToolObservers

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TTL_MINUTES", "PROFILES", "Container", "Profile", "build_container", "startup_warnings"]

Profile = Literal["local", "remote", "test"]


def _known_tools(catalog: Catalog) -> frozenset[str]:
    return frozenset(spec.name for spec in catalog.tools)


def _session_count(owners: SessionOwners) -> Any:
    return owners.__len__


def _membership(settings: Settings, directory: Any) -> Any:
    """``MANA_SPACE_CHECK=off`` trusts the header; otherwise the caching directory answers."""
    return directory if settings.space_check else AnySpace()


def _issuer_claim(settings: Settings) -> str | None:
    return settings.jwt_issuer


def _jwks_url(settings: Settings) -> str:
    assert settings.auth_url is not None
    return join_url(settings.auth_url, JWKS_PATH)


def _space_source(settings: Settings, client: Any, observer: Any) -> Any:
    assert settings.auth_url is not None
    if settings.service_key:
        return ServiceKeySpaceDirectory(client, settings.auth_url, settings.service_key, observer)
    return BearerSpaceDirectory(client, settings.auth_url, observer)


def _caching_directory(inner: Any, clock: Any, reader: Any) -> CachingSpaceDirectory:
    # A new membership makes rows visible that a resumed incremental read would never fetch.
    return CachingSpaceDirectory(inner, clock, on_change=reader.memberships_changed)


def _sync_server(database: LocalDatabase) -> SyncServer:
    return database.sync_server()


def _new_sync_server(
    cls: type[SyncServer], store: MemorySyncStore, directory: StaticSpaceDirectory, wire_format: Any
) -> SyncServer:
    return cls(store, directory.memberships, wire_format=wire_format)


def _with_extras(use_cases: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {**use_cases, **extra}


def _dev_token_issuer(settings: Settings) -> LocalTokenIssuer:
    return LocalTokenIssuer(settings.data_dir, settings.local_issuer, settings.jwt_audience)


def _dev_token_verifier(issuer: LocalTokenIssuer, settings: Settings, clock: Any) -> JwksTokenVerifier:
    """Dev tokens pass the very checks mana-auth's do (D16), against a JWKS built from our own key."""
    return JwksTokenVerifier(
        StaticJwksSource(issuer.jwks()),
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        clock=clock,
    )


def _signing_key_check(issuer: LocalTokenIssuer) -> Check:
    return probes.flag(issuer.is_ready, "no usable key")


def _database_check(database: LocalDatabase) -> Check:
    return probes.flag(database.is_ready, "database error", blocking=True)


def _sync_health_check(client: httpx.AsyncClient, settings: Settings, observer: GatewayMetrics) -> Check:
    """``GET {MANA_SYNC_URL}/health`` within the 2 s readiness budget."""
    assert settings.sync_url is not None
    url = httpx.URL(join_url(settings.sync_url, "/health"))

    async def status() -> int | str:
        request = upstream_request("GET", url)
        try:
            response = await send_timed(
                client, request, upstream="sync_health", observer=observer, total_timeout_s=CHECK_BUDGET_S
            )
        except TransportFailure as failure:
            return failure.reason
        return response.status_code

    return probes.http_status(status)


class LocalAdapters(containers.DeclarativeContainer):
    """D16: one SQLite file under ``MANA_DATA_DIR``; the gateway signs and verifies its own tokens."""

    settings = providers.Dependency(instance_of=Settings)
    metrics = providers.Dependency(instance_of=GatewayMetrics)
    clock: providers.Dependency[Any] = providers.Dependency()

    database = providers.Singleton(LocalDatabase, settings.provided.data_dir)
    sync_server = providers.Singleton(_sync_server, database)
    change_log = providers.Singleton(InProcessChangeLog, sync_server)
    reader = providers.Singleton(
        IncrementalReader, change_log, clock=clock, on_large_read=providers.Object(release_free_memory)
    )
    key_vault = providers.Singleton(CachingKeyVault, database.provided.key_vault, clock, metrics)
    spaces = providers.Singleton(_caching_directory, database.provided.space_directory, clock, reader)
    issuer = providers.Singleton(_dev_token_issuer, settings)
    verifier = providers.Singleton(_dev_token_verifier, issuer, settings, clock)
    readiness_checks = providers.Dict(
        jwks=providers.Callable(_signing_key_check, issuer),
        sync=providers.Callable(_database_check, database),
    )
    startup = providers.List(verifier.provided.start)
    shutdown = providers.List(verifier.provided.aclose, database.provided.close)


class RemoteAdapters(containers.DeclarativeContainer):
    """mana-sync and mana-auth over one pooled httpx client."""

    settings = providers.Dependency(instance_of=Settings)
    metrics = providers.Dependency(instance_of=GatewayMetrics)
    clock: providers.Dependency[Any] = providers.Dependency()

    client = providers.Singleton(build_client)
    change_log = providers.Singleton(HttpChangeLog, client, settings.provided.sync_url, metrics)
    reader = providers.Singleton(
        IncrementalReader, change_log, clock=clock, on_large_read=providers.Object(release_free_memory)
    )
    key_vault = providers.Singleton(
        CachingKeyVault,
        providers.Singleton(HttpKeyVault, client, settings.provided.auth_url, metrics),
        clock,
        metrics,
    )
    spaces = providers.Singleton(
        _caching_directory, providers.Singleton(_space_source, settings, client, metrics), clock, reader
    )
    verifier = providers.Singleton(
        JwksTokenVerifier,
        providers.Singleton(HttpJwksSource, client, providers.Callable(_jwks_url, settings), metrics),
        audience=settings.provided.jwt_audience,
        issuer=providers.Callable(_issuer_claim, settings),
        clock=clock,
    )
    readiness_checks = providers.Dict(
        jwks=verifier.provided.check_ready,
        sync=providers.Callable(_sync_health_check, client, settings, metrics),
    )
    startup = providers.List(verifier.provided.start)
    shutdown = providers.List(verifier.provided.aclose, client.provided.aclose)


class TestAdapters(containers.DeclarativeContainer):
    """Everything in memory; users and spaces are added by the test through ``directory`` and ``vault``."""

    settings = providers.Dependency(instance_of=Settings)
    metrics = providers.Dependency(instance_of=GatewayMetrics)
    clock: providers.Dependency[Any] = providers.Dependency()

    store = providers.Singleton(MemorySyncStore)
    directory = providers.Singleton(StaticSpaceDirectory)
    vault = providers.Singleton(InMemoryKeyVault)
    sync_server_class: providers.Object[type[SyncServer]] = providers.Object(SyncServer)
    wire_format = providers.Object("current")
    sync_server = providers.Singleton(
        providers.Callable(_new_sync_server, sync_server_class, store, directory, wire_format)
    )
    change_log = providers.Singleton(InProcessChangeLog, sync_server)
    reader = providers.Singleton(
        IncrementalReader, change_log, clock=clock, on_large_read=providers.Object(release_free_memory)
    )
    key_vault = providers.Singleton(CachingKeyVault, vault, clock, metrics)
    spaces = providers.Singleton(_caching_directory, directory, clock, reader)
    issuer = providers.Singleton(_dev_token_issuer, settings)
    verifier = providers.Singleton(_dev_token_verifier, issuer, settings, clock)
    readiness_checks = providers.Dict(
        jwks=verifier.provided.check_ready,
        sync=providers.Callable(probes.always_ready),
    )
    startup = providers.List(verifier.provided.start)
    shutdown = providers.List(verifier.provided.aclose)


PROFILES: dict[str, type[containers.DeclarativeContainer]] = {
    "local": LocalAdapters,
    "remote": RemoteAdapters,
    "test": TestAdapters,
}


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    adapters = providers.DependenciesContainer()

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidIdSource)
    ciphers = providers.Singleton(AesGcmCipherFactory)

    catalog = providers.Singleton(
        Catalog, naming=settings.provided.tool_names, allow_destructive=settings.provided.allow_destructive
    )
    owners = providers.Singleton(SessionOwners)
    metrics = providers.Singleton(
        GatewayMetrics, providers.Callable(_known_tools, catalog), providers.Callable(_session_count, owners)
    )
    audit = providers.Singleton(AuditLog)
    observer = providers.Singleton(ToolObservers, metrics, audit)

    policy = providers.Singleton(
        PolicyGate,
        mode=settings.provided.policy_mode,
        rate_limit=settings.provided.rate_limit,
        allow_destructive=settings.provided.allow_destructive,
        monotonic=clock.provided.monotonic,
        observer=observer,
    )
    extra_use_cases: providers.Object[dict[str, Any]] = providers.Object({})
    """Tools a test adds to the catalog (the harness's seam); empty in every real profile."""
    use_cases = providers.Singleton(
        _with_extras,
        providers.Callable(
            build_use_cases,
            reader=adapters.reader,
            change_log=adapters.change_log,
            key_vault=adapters.key_vault,
            ciphers=ciphers,
            spaces=adapters.spaces,
            ids=ids,
        ),
        extra_use_cases,
    )
    tool_service = providers.Singleton(CatalogToolService, catalog, use_cases, policy, clock, observer)

    lifecycle = providers.Singleton(Lifecycle)
    gateway = providers.Singleton(
        Gateway,
        settings=settings,
        tools=tool_service,
        verifier=adapters.verifier,
        membership=providers.Callable(_membership, settings, adapters.spaces),
        readiness_checks=adapters.readiness_checks,
        metrics=metrics,
        owners=owners,
        version=__version__,
        lifecycle=lifecycle,
        startup=adapters.startup,
        shutdown=adapters.shutdown,
    )
    app = providers.Factory(create_app, gateway)


def build_container(
    settings: Settings,
    profile: Profile | None = None,
    *,
    replace: Mapping[str, Any] | None = None,
    replace_adapters: Mapping[str, Any] | None = None,
) -> Container:
    """The container for ``settings`` in ``profile`` (default: the mode the settings select).

    ``replace`` and ``replace_adapters`` swap providers of the container and of the profile for
    fixed objects: the seam the test harness uses (a fixed clock, sequential ids, a recording
    sync server), so that even the tests' wiring lives here.
    """
    container = Container(settings=settings)
    adapters = PROFILES[profile or settings.mode](
        settings=settings, metrics=container.metrics, clock=container.clock
    )
    for name, value in (replace_adapters or {}).items():
        getattr(adapters, name).override(providers.Object(value))
    container.adapters.override(adapters)
    for name, value in (replace or {}).items():
        getattr(container, name).override(providers.Object(value))
    return container


def startup_warnings(settings: Settings, catalog: Catalog) -> list[str]:
    """The configuration facts an operator should see once at start (gateway-http.md §1, §2, §5)."""
    warnings: list[str] = []
    known = {spec.name for spec in catalog.tools}
    for name in sorted(settings.allow_destructive - known):
        warnings.append(f"MANA_ALLOW_DESTRUCTIVE names an unknown tool: {name}")
    if settings.mode == "local" and not settings.binds_loopback:
        warnings.append(
            f"local mode is bound to {settings.host}, not loopback: dev tokens are reachable from the network"
        )
    if settings.mode == "remote" and settings.space_check and not settings.service_key:
        warnings.append(
            "MANA_SERVICE_KEY is not set: memberships are read from the organization list with the "
            "caller's token, which the stock mana-auth refuses (every /mcp request then gets 503); "
            "set MANA_SERVICE_KEY or MANA_SPACE_CHECK=off"
        )
    if settings.mode == "remote" and not settings.space_check:
        warnings.append(
            "MANA_SPACE_CHECK=off: X-Mana-Space is trusted as sent, and mana-sync does not check "
            "writes, so any caller can write into any space whose id they know; use it only when "
            "something in front of the gateway checks the space (docs/security.md)"
        )
    return warnings
