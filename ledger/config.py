"""Persistence settings for the event store, chosen by configuration only.

SQLite (a file under the data dir) by default; PostgreSQL when a ``postgresql://`` DSN is
configured. Deployment only sets variables; nothing else changes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

#: pg_advisory_lock key taken while an application creates its tables and functions.
SCHEMA_LOCK_KEY = 0x4A55_4159  # "ASSAY"-ish; any constant shared by all Assay processes


class StoreConfigError(ValueError):
    pass


def store_env(database_url: str, sqlite_path: Path, lock_timeout: float = 30.0) -> dict[str, str]:
    """eventsourcing environment for one application's store.

    ``lock_timeout``: seconds a writer waits for another's lock before failing clearly.
    In PostgreSQL, eventsourcing prefixes each application's tables with its name, so the
    ledger and the chain share one database; with SQLite each has its own file.
    """
    common = {"ORIGINATOR_ID_TYPE": "text", "AGGREGATE_CACHE_MAXSIZE": "20000"}
    if not database_url:
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(sqlite_path),
            "SQLITE_LOCK_TIMEOUT": str(int(max(1, lock_timeout))),
        }
    url = urlparse(database_url)
    if url.scheme not in {"postgresql", "postgres"}:
        raise StoreConfigError(
            f"database_url must be empty (SQLite) or postgresql://…, not {url.scheme!r}"
        )
    env = {
        **common,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "assay",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_LOCK_TIMEOUT": str(int(max(1, lock_timeout))),
    }
    return env


@contextmanager
def schema_lock(store: str | Mapping[str, str]) -> Iterator[None]:
    """Serialize table creation across processes (a DSN, or an eventsourcing environment).

    Concurrent ``CREATE … IF NOT EXISTS`` / ``CREATE OR REPLACE FUNCTION`` statements race
    in PostgreSQL (unique violations on the catalog); N workers starting together hit it.
    SQLite races too: eventsourcing checks for its tracking table in one transaction and
    creates it (with a ``__migration__`` row) in another, so two processes opening a new
    file together both insert that row and one fails. There, an flock beside the file.
    """
    if not isinstance(store, str):
        sqlite = store.get("SQLITE_DBNAME", "")
        if store.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite" and _is_file(sqlite):
            with _file_lock(Path(sqlite + ".schema-lock")):
                yield
            return
        store = postgres_url(store)
    database_url = store
    if not database_url:
        yield
        return
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def _is_file(dbname: str) -> bool:
    return bool(dbname) and ":memory:" not in dbname and "mode=memory" not in dbname


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        yield  # a read-only data dir: nobody can create tables in it anyway
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def postgres_url(env: Mapping[str, str]) -> str:
    """The DSN of an eventsourcing PostgreSQL environment ("" for any other backend)."""
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        return ""
    user = quote(env.get("POSTGRES_USER", "postgres"))
    password = env.get("POSTGRES_PASSWORD", "")
    auth = f"{user}:{quote(password)}" if password else user
    host, port = env.get("POSTGRES_HOST", "127.0.0.1"), env.get("POSTGRES_PORT", "5432")
    return f"postgresql://{auth}@{host}:{port}/{env.get('POSTGRES_DBNAME', 'assay')}"
