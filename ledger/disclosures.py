"""The disclosure store: the salts and values that open personal-data commitments.

It lives apart from the event store (its own SQLite file, ``disclosures.sqlite`` in the
data dir) because it must be erasable: ``erase(item)`` deletes an item's disclosures and
rewrites the file (``secure_delete`` zeroes freed pages, ``VACUUM`` drops them, the
rollback journal is deleted after each transaction), so an erased value is left in no
file. The ledger keeps only digests; nothing anchored depends on this store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from domain.privacy import Disclosure

_SCHEMA = """
CREATE TABLE IF NOT EXISTS disclosures (
    item_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    name TEXT NOT NULL,
    salt BLOB NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (item_id, event_id, name)
)"""


class DisclosureStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=DELETE")
        self._con.execute("PRAGMA secure_delete=ON")
        self._con.execute(_SCHEMA)

    def put(self, item_id: str, event_id: str, disclosure: Disclosure) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO disclosures VALUES (?, ?, ?, ?, ?)",
            (item_id, event_id, disclosure.name, disclosure.salt, disclosure.value),
        )

    def of_item(self, item_id: str) -> dict[tuple[str, str], Disclosure]:
        """The item's disclosures by (event id, field name)."""
        rows = self._con.execute(
            "SELECT event_id, name, salt, value FROM disclosures WHERE item_id = ?", (item_id,)
        ).fetchall()
        return {(e, n): Disclosure(bytes(salt), n, v) for e, n, salt, v in rows}

    def erase(self, item_id: str) -> int:
        """Delete the item's disclosures and rewrite the file; returns how many there were."""
        count = self._con.execute("DELETE FROM disclosures WHERE item_id = ?", (item_id,)).rowcount
        self._con.execute("VACUUM")
        return int(count)

    def close(self) -> None:
        self._con.close()
