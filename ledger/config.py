"""Persistence settings for the event store, chosen by configuration only.

SQLite (a file under the data dir) by default; PostgreSQL when a ``postgresql://`` DSN is
configured. Deployment only sets variables; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

#: pg_advisory_lock key taken while an application creates its tables and functions.
SCHEMA_LOCK_KEY = 0x4A55_4159  # "ASSAY"-ish; any constant shared by all Assay processes


class StoreConfigError(ValueError):
    pass


def store_env(database_url: str, sqlite_path: Path) -> dict[str, str]:
    """eventsourcing environment for one application's store.

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
            "SQLITE_LOCK_TIMEOUT": "30",
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
    }
    return env


@contextmanager
def schema_lock(database_url: str) -> Iterator[None]:
    """Serialize table creation across processes on PostgreSQL.

    Concurrent ``CREATE … IF NOT EXISTS`` / ``CREATE OR REPLACE FUNCTION`` statements race
    in PostgreSQL (unique violations on the catalog); N workers starting together hit it.
    SQLite needs nothing: its writers are serialized by the file lock.
    """
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


def postgres_url(env: Mapping[str, str]) -> str:
    """The DSN of an eventsourcing PostgreSQL environment ("" for any other backend)."""
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        return ""
    user = quote(env.get("POSTGRES_USER", "postgres"))
    password = env.get("POSTGRES_PASSWORD", "")
    auth = f"{user}:{quote(password)}" if password else user
    host, port = env.get("POSTGRES_HOST", "127.0.0.1"), env.get("POSTGRES_PORT", "5432")
    return f"postgresql://{auth}@{host}:{port}/{env.get('POSTGRES_DBNAME', 'assay')}"
