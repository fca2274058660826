"""assay.failures: what the environment refused, said so the user can act on it."""

from __future__ import annotations

import sqlite3

import pytest

from assay.failures import STORAGE_FAILED, describe


@pytest.mark.parametrize(
    "text",
    ["attempt to write a readonly database", "unable to open database file"],
)
def test_a_store_sqlite_cannot_write_or_open_names_the_permissions(text: str) -> None:
    """SQLite says "unable to open database file" when it cannot make its WAL or shm file
    beside a store in a read-only folder: the user is told to fix the permissions."""
    failure = describe(sqlite3.OperationalError(text), "/srv/assay-data")
    assert failure is not None and failure.code == STORAGE_FAILED
    assert "permissions" in failure.message and "/srv/assay-data" in failure.message
    assert text in failure.message  # SQLite's own words stay


def test_an_error_that_is_not_the_environment_is_left_to_the_traceback() -> None:
    assert describe(ValueError("a bug"), "/srv/assay-data") is None
