"""One DuckDB connection that projects pages of notifications, one transaction per page.

Exactly once: a page's rows and its tracking position commit together, and the follower
resumes from the stored position + 1, so a crash (even SIGKILL mid-page) loses the whole
uncommitted page and the restart projects it again — never half of it, never twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from anchoring.header import BlockHeader
from projections.apply import (
    LEAVES_COLUMNS,
    apply_blocks,
    apply_ledger,
    insert_blocks,
    stage_leaves,
)
from projections.schema import create_schema
from projections.staging import Page, stage_ledger, state_text

LEDGER = "ledger"
CHAIN = "chain"
BLOCK_TOPIC_SUFFIX = ":Block.Sealed"


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    # Deterministic rendering of TIMESTAMPTZ for everyone reading through this connection.
    con.execute("SET TimeZone = 'UTC'")
    return con


class Writer:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        create_schema(con)

    def position(self, name: str) -> int:
        row = self.con.execute(
            "SELECT position FROM projection_tracking WHERE name = ?", [name]
        ).fetchone()
        return int(row[0]) if row else 0

    def transaction(self, body: Callable[[], None]) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            body()
            self.con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # keep the original error visible
                self.con.execute("ROLLBACK")
            raise

    def _track(self, name: str, position: int) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO projection_tracking VALUES (?, ?)", [name, position]
        )

    def ledger_page(self, page: Page, *, derive_items: bool) -> None:
        """Project one page of ledger notifications (see ``staging.prepare``)."""
        self.transaction(lambda: self.apply_ledger_page(page, derive_items=derive_items))

    def apply_ledger_page(
        self, page: Page, *, derive_items: bool, leaves_ahead: bool = False
    ) -> None:
        """As ``ledger_page`` inside the caller's transaction."""
        stage_ledger(self.con, page)
        apply_ledger(self.con, page, derive_items=derive_items, leaves_ahead=leaves_ahead)
        self._track(LEDGER, page.last_id)

    def chain_page(self, last_id: int, blocks: Sequence[dict[str, Any]]) -> None:
        def body() -> None:
            apply_blocks(self.con, blocks)
            self._track(CHAIN, last_id)

        self.transaction(body)

    def start_leaves_ahead(self) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE leaves_ahead ({LEAVES_COLUMNS})")

    def apply_chain_ahead(self, last_id: int, blocks: Sequence[dict[str, Any]]) -> None:
        """A rebuild reads the chain first: blocks now, their leaves kept in TEMP
        ``leaves_ahead`` (``start_leaves_ahead``) for the ledger pages to pick up, instead
        of an UPDATE of every row afterwards."""
        if blocks:
            insert_blocks(self.con, blocks)
            stage_leaves(self.con, blocks, "leaves_ahead", replace=False)
        self._track(CHAIN, last_id)


def decode_block(chain: Application[str], n: Notification) -> dict[str, Any] | None:
    """A ``Block.Sealed`` state as plain values, plus the block's hash (``block_hash``) and
    the stored JSON (``state_json``, from which DuckDB unnests the leaves)."""
    if not n.topic.endswith(BLOCK_TOPIC_SUFFIX):
        return None
    text = state_text(chain.mapper, n.state)
    state: dict[str, Any] = chain.mapper.transcoder.decode(text.encode())
    state["block_hash"] = BlockHeader.from_json(state["header"]).block_hash().hex()
    state["state_json"] = text
    return state


def coverable(blocks: Sequence[dict[str, Any] | None], ledger_position: int) -> int:
    """How many leading chain notifications cover only ledger rows already projected.

    A block's leaves are stamped onto ``custody_events`` rows, so a block must wait until
    the ledger follower has passed its ``last_notification``.
    """
    for i, block in enumerate(blocks):
        if block is not None and int(block["header"]["last_notification"]) > ledger_position:
            return i
    return len(blocks)
