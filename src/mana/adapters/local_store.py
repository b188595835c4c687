"""Local mode's storage (gateway-http.md §2, D16): one SQLite file with the change log and users.

``<data_dir>/mana-local.sqlite3`` holds the rows of :class:`SqliteSyncStore` (served with
mana-sync's semantics by :class:`~mana.adapters.sync_core.SyncServer`) and the local users with
their personal space and master key. The file holds key material, so it is created 0600 inside
a 0700 directory.

Each part opens its own connection (WAL lets them and a concurrent ``mana-mcp token`` process
share the file); each connection is guarded by a lock so that threads never interleave on it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import attrs

from mana.adapters.sync_core import RowQuery, StoredRow, StoreError, SyncServer, WireFormat
from mana.application.errors import KeyUnavailable, SpacesUnavailable
from mana.application.ports import Caller, MasterKey
from mana.domain.spaces import Space

DATABASE_FILE = "mana-local.sqlite3"
MAX_NAME_LENGTH = 64


def ensure_data_dir(data_dir: str | os.PathLike[str]) -> Path:
    """The data directory, created with mode 0700 when missing (an existing one is left as is)."""
    path = Path(data_dir)
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is reduced by the umask
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (never widens an existing file)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


T = TypeVar("T")

BUSY_DEADLINE_S = 5.0
"""How long a statement of the change log waits for another process's write lock."""
_BUSY_FIRST_WAIT_S = 0.00005
_BUSY_LONGEST_WAIT_S = 0.002


def _is_busy(exc: sqlite3.Error) -> bool:
    # SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT) share the low byte.
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class BusyRetry:
    """Retries a statement that found the file locked by another process, waiting 50 µs at first.

    SQLite's own busy handler (the connection ``timeout``) sleeps at least 1 ms, then 2, 5, 10 ms:
    with several workers on one file a write collides a few times in a hundred, and each sleep
    stalls the worker's whole event loop, not just the one call. A write holds the lock for tens
    of microseconds, so short waits that double up to 2 ms find it free far sooner.
    """

    def __init__(
        self,
        deadline_s: float = BUSY_DEADLINE_S,
        *,
        sleep: Callable[[float], object] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._deadline = deadline_s
        self._sleep = sleep
        self._monotonic = monotonic

    def __call__(self, run: Callable[[], T]) -> T:
        wait = _BUSY_FIRST_WAIT_S
        give_up: float | None = None
        while True:
            try:
                return run()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                now = self._monotonic()
                if give_up is None:
                    give_up = now + self._deadline
                elif now >= give_up:
                    raise
            self._sleep(wait)
            wait = min(wait * 2, _BUSY_LONGEST_WAIT_S)


# --- the change log --------------------------------------------------------------------------------

_SYNC_SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_changes (
    seq              INTEGER PRIMARY KEY,
    event_id         TEXT    NOT NULL,
    app_id           TEXT    NOT NULL,
    table_name       TEXT    NOT NULL,
    record_id        TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    op               TEXT    NOT NULL,
    data             TEXT,
    field_timestamps TEXT    NOT NULL,
    client_id        TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    schema_version   INTEGER NOT NULL,
    actor            TEXT,
    origin           TEXT,
    space_id         TEXT
);
CREATE INDEX IF NOT EXISTS sync_changes_table_time ON sync_changes (app_id, table_name, created_at);
CREATE INDEX IF NOT EXISTS sync_changes_app_time ON sync_changes (app_id, created_at);
"""

_COLUMNS = (
    "event_id, app_id, table_name, record_id, user_id, op, data, field_timestamps, client_id, "
    "schema_version, actor, origin, space_id, created_at"
)

_dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_load = json.JSONDecoder().decode


# created_at = now, or 1 µs after the newest row (rows are appended in created_at order, so the
# newest is the last by seq). One statement: atomic even against another process.
_APPEND = (
    "INSERT INTO sync_changes (event_id, app_id, table_name, record_id, user_id, op, data, "
    "field_timestamps, client_id, schema_version, actor, origin, space_id, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
    "max(?14, coalesce((SELECT created_at FROM sync_changes ORDER BY seq DESC LIMIT 1) + 1, ?14))) "
    "RETURNING created_at"
)


class SqliteSyncStore:
    """A :class:`~mana.adapters.sync_core.SyncStore` in one SQLite file (WAL)."""

    def __init__(self, path: str | os.PathLike[str], *, busy: BusyRetry | None = None) -> None:
        self.path = Path(path)
        self._conn = _connect(self.path)
        self._busy = busy or BusyRetry()
        self._lock = threading.Lock()
        self._select_sql: dict[tuple[bool, int], str] = {}
        with self._lock:
            self._conn.executescript(_SYNC_SCHEMA)
            # From here on no SQLite busy handler: ``busy`` waits instead (see BusyRetry).
            self._conn.execute("PRAGMA busy_timeout = 0")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def append(self, row: StoredRow, now: int) -> StoredRow:
        params = (
            row.event_id,
            row.app_id,
            row.table,
            row.record_id,
            row.user_id,
            row.op,
            row.data,
            _dump(dict(row.field_times)),
            row.client_id,
            row.schema_version,
            row.actor,
            row.origin,
            row.space_id,
            now,
        )
        try:
            with self._lock:
                created_at = self._busy(lambda: self._conn.execute(_APPEND, params).fetchall())[0][0]
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from None
        return attrs.evolve(row, created_at=created_at)

    def select(self, query: RowQuery) -> list[StoredRow]:
        sql = self._sql(query.table is None, len(query.spaces))
        params: list[object] = [query.app_id]
        if query.table is not None:
            params.append(query.table)
        params += [query.after, query.exclude_client_id, query.user_id, *query.spaces, query.limit]
        try:
            with self._lock:
                found = self._busy(lambda: self._conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from None
        return [
            StoredRow(
                event_id=r[0],
                app_id=r[1],
                table=r[2],
                record_id=r[3],
                user_id=r[4],
                op=r[5],
                data=r[6],
                field_times=_load(r[7]),
                client_id=r[8],
                schema_version=r[9],
                actor=r[10],
                origin=r[11],
                space_id=r[12],
                created_at=r[13],
            )
            for r in found
        ]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM sync_changes").fetchone()[0])

    def ping(self) -> None:
        """A cheap query; raises ``sqlite3.Error`` when the file cannot be read."""
        with self._lock:
            self._conn.execute("SELECT 1 FROM sync_changes LIMIT 1").fetchall()

    def _sql(self, all_tables: bool, n_spaces: int) -> str:
        key = (all_tables, n_spaces)
        sql = self._select_sql.get(key)
        if sql is None:
            where = ["app_id = ?"]
            if not all_tables:
                where.append("table_name = ?")
            where += ["created_at > ?", "client_id <> ?"]
            if n_spaces:
                where.append(f"(user_id = ? OR space_id IN ({', '.join('?' * n_spaces)}))")
            else:
                where.append("user_id = ?")
            sql = (
                f"SELECT {_COLUMNS} FROM sync_changes WHERE {' AND '.join(where)} ORDER BY created_at LIMIT ?"
            )
            self._select_sql[key] = sql
        return sql


# --- local users -----------------------------------------------------------------------------------

_USERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS local_users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    space_id   TEXT NOT NULL UNIQUE,
    master_key BLOB NOT NULL CHECK (length(master_key) = 32),
    created_at TEXT NOT NULL
);
"""


@attrs.frozen(slots=True)
class LocalUser:
    id: str
    name: str
    space_id: str


def _valid_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise ValueError(f"a local user name must be 1-{MAX_NAME_LENGTH} printable characters")
    try:
        cleaned.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a local user name must be valid Unicode text") from None
    return cleaned


class LocalUsers:
    """Local users: a UUID id, a unique name, a personal space (UUID) and a 32-byte master key.

    Users are never changed or removed, so lookups by id are cached; the key is read from the file
    on demand and kept nowhere else.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._conn = _connect(Path(path))
        self._lock = threading.Lock()
        self._by_id: dict[str, LocalUser] = {}
        with self._lock:
            self._conn.executescript(_USERS_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def get_or_create(self, name: str) -> LocalUser:
        """The user called ``name`` (surrounding whitespace ignored), created with a fresh key if new."""
        cleaned = _valid_name(name)
        with self._lock:
            self._conn.execute(
                "INSERT INTO local_users (id, name, space_id, master_key, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (
                    str(uuid.uuid4()),
                    cleaned,
                    str(uuid.uuid4()),
                    os.urandom(32),
                    datetime.now(UTC).isoformat(),
                ),
            )
            found = self._conn.execute(
                "SELECT id, name, space_id FROM local_users WHERE name = ?", (cleaned,)
            ).fetchone()
        user = LocalUser(found[0], found[1], found[2])
        self._by_id[user.id] = user
        return user

    def by_id(self, user_id: str) -> LocalUser | None:
        user = self._by_id.get(user_id)
        if user is not None:
            return user
        with self._lock:
            found = self._conn.execute(
                "SELECT id, name, space_id FROM local_users WHERE id = ?", (user_id,)
            ).fetchone()
        if found is None:
            return None
        user = self._by_id[user_id] = LocalUser(found[0], found[1], found[2])
        return user

    def all(self) -> list[LocalUser]:
        with self._lock:
            found = self._conn.execute("SELECT id, name, space_id FROM local_users ORDER BY name").fetchall()
        return [LocalUser(r[0], r[1], r[2]) for r in found]

    def master_key(self, user_id: str) -> MasterKey | None:
        with self._lock:
            found = self._conn.execute(
                "SELECT master_key FROM local_users WHERE id = ?", (user_id,)
            ).fetchone()
        return None if found is None else MasterKey(bytes(found[0]))

    def memberships(self, user_id: str) -> frozenset[str]:
        """For the :class:`SyncServer`: a local user is a member of exactly their personal space."""
        user = self.by_id(user_id)
        return frozenset() if user is None else frozenset((user.space_id,))


class LocalKeyVault:
    """The :class:`~mana.application.ports.KeyVault` of local mode: never zero-knowledge."""

    def __init__(self, users: LocalUsers) -> None:
        self._users = users

    async def master_key(self, caller: Caller) -> MasterKey:
        try:
            key = self._users.master_key(caller.user_id)
        except sqlite3.Error:
            raise KeyUnavailable("local database error") from None
        if key is None:
            raise KeyUnavailable("unknown local user")
        return key


class LocalSpaceDirectory:
    """The :class:`~mana.application.ports.SpaceDirectory` of local mode: the personal space only."""

    def __init__(self, users: LocalUsers) -> None:
        self._users = users

    async def spaces(self, caller: Caller) -> Sequence[Space]:
        try:
            user = self._users.by_id(caller.user_id)
        except sqlite3.Error:
            raise SpacesUnavailable("local database error") from None
        if user is None:
            return []
        return [Space(id=user.space_id, name="Personal", slug=None, type="personal", role="owner")]


class LocalDatabase:
    """``<data_dir>/mana-local.sqlite3`` with everything local mode keeps in it."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = ensure_data_dir(data_dir)
        self.path = self.data_dir / DATABASE_FILE
        create_private_file(self.path)
        self.sync_store = SqliteSyncStore(self.path)
        self.users = LocalUsers(self.path)
        self.key_vault = LocalKeyVault(self.users)
        self.space_directory = LocalSpaceDirectory(self.users)

    def sync_server(
        self, clock: Callable[[], datetime] | None = None, wire_format: WireFormat = "current"
    ) -> SyncServer:
        return SyncServer(self.sync_store, self.users.memberships, clock=clock, wire_format=wire_format)

    def is_ready(self) -> bool:
        """For ``/ready``: the file is there and answers a query."""
        if not self.path.is_file():
            return False
        try:
            self.sync_store.ping()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        self.sync_store.close()
        self.users.close()

    def __enter__(self) -> LocalDatabase:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
