"""What the environment refused, in one line a user can act on.

Every ``assay`` command ends through ``describe``: a full or read-only disk, a locked or
unreachable event store, an unreachable or refusing Kafka cluster become a clear message
and a distinct exit code instead of a traceback. Anything else is a bug and keeps its
traceback. The stores' own transactions guarantee nothing was half written.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass

#: Exit codes (2 is a usage or configuration error, see assay.cli).
KAFKA_FAILED = 3
STORAGE_FAILED = 4

_DISK_ERRNOS = {errno.ENOSPC: "no space left", errno.EDQUOT: "disk quota exceeded",
                errno.EFBIG: "file too large", errno.EROFS: "read-only file system",
                errno.EACCES: "permission denied", errno.EPERM: "not permitted"}  # fmt: skip


#: DuckDB reports a failed write at commit as a TransactionException with the OS message.
_DUCKDB_IO_PHRASES = ("No space left", "Could not write", "Permission denied",
                      "Read-only file system", "Disk quota", "File too large")  # fmt: skip


@dataclass(frozen=True)
class Failure:
    code: int
    message: str


def describe(error: BaseException, data_dir: str) -> Failure | None:
    """A Failure for errors of the environment; None for anything else (a bug)."""
    kafka = _kafka(error)
    if kafka is not None:
        return Failure(KAFKA_FAILED, kafka)
    storage = _storage(error, data_dir)
    if storage is not None:
        return Failure(STORAGE_FAILED, storage)
    return None


def _kafka(error: BaseException) -> str | None:
    from kafka.errors import KafkaError

    from streams.producer import DeliveryError

    if not isinstance(error, KafkaError | DeliveryError):
        return None
    return (
        f"Kafka: {type(error).__name__}: {error}. Check that the cluster is up and that "
        "kafka_bootstrap and the kafka_security_* / kafka_sasl_* settings are right."
    )


def _storage(error: BaseException, data_dir: str) -> str | None:
    import duckdb
    import psycopg
    from eventsourcing.persistence import OperationalError, PersistenceError

    chain = _causes(error)
    for e in chain:
        if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:
            where = f" ({e.filename})" if e.filename else ""
            return (
                f"storage: {_DISK_ERRNOS[e.errno]}{where}. Nothing was half written; free "
                f"space or fix permissions under {data_dir} and run the command again."
            )
    for e in chain:
        if isinstance(e, sqlite3.Error | OperationalError | PersistenceError):
            text = str(e) or type(e).__name__
            hint = _sqlite_hint(text, data_dir)
            return f"event store (SQLite): {text}. {hint}"
        if isinstance(e, psycopg.OperationalError):
            return (
                f"event store (PostgreSQL): {str(e).strip()}. Check database_url and that "
                "the server is up; the transaction was rolled back."
            )
        if isinstance(e, duckdb.IOException | duckdb.PermissionException) or (
            isinstance(e, duckdb.Error) and any(p in str(e) for p in _DUCKDB_IO_PHRASES)
        ):
            return (
                f"projections (DuckDB): {e}. The last committed projection is intact; free "
                f"space or fix permissions under {data_dir} and run the command again."
            )
    return None


def _sqlite_hint(text: str, data_dir: str) -> str:
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return (
            "Another process holds the store's write lock (see store_lock_timeout); "
            "the transaction was rolled back."
        )
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return (
            f"Check the permissions: {data_dir} and its files must be writable by this user "
            "(SQLite writes its WAL and shared-memory files beside each store)."
        )
    if "full" in lowered or "i/o" in lowered:
        return f"Free space under {data_dir}; the transaction was rolled back."
    return "The transaction was rolled back."


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
