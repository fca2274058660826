"""One DuckDB connection that projects pages of notifications, one transaction per page.

Exactly once: a page's rows and its tracking position commit together, and the follower
resumes from the stored position + 1, so a crash (even SIGKILL mid-page) loses the whole
uncommitted page and the restart projects it again — never half of it, never twice.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Notification

from anchoring.header import BlockHeader
from ledger.stored import state_json
from projections.apply import (
    LEAVES_COLUMNS,
    apply_blocks,
    apply_ledger,
    insert_blocks,
    stage_leaves,
)
from projections.schema import create_schema
from projections.staging import Page, stage_ledger

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
        if page.lines or page.file is not None:  # else no item or party record to stage
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
    """A ``Block.Sealed`` event's ``header`` as plain values, the block's hash
    (``block_hash``) and the stored JSON (``state_json``, from which DuckDB unnests the
    leaves)."""
    if not n.topic.endswith(BLOCK_TOPIC_SUFFIX):
        return None
    text = state_json(chain.mapper, n.state)
    transcoder = chain.mapper.transcoder
    header: Any = MISSING
    if isinstance(transcoder, JSONTranscoder):
        header = top_level_member(transcoder.decoder, text, "header")
    if header is MISSING:
        header = transcoder.decode(text.encode())["header"]
    return {
        "header": header,
        "block_hash": BlockHeader.from_json(header).block_hash().hex(),
        "state_json": text,
    }


MISSING = object()
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    """The index of the first non-whitespace character from ``i`` on."""
    match = _SPACE.match(text, i)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def top_level_member(decoder: json.JSONDecoder, text: str, name: str) -> Any:
    """``decoder.decode(text)[name]`` for a JSON object ``text``, decoding only the members
    up to ``name`` (``MISSING`` if it is not there or ``text`` is not such an object).

    A block's header comes before its leaves and items, which are nearly all of the text:
    a chain page is then much quicker to read. The walk follows JSON's grammar, each value
    decoded by ``decoder`` itself (the same hooks), so the value is the one a full decode
    gives (an encoder writes a key once; ``json`` would keep the last of duplicates).
    """
    try:
        i = _skip(text, 0)
        if text[i] != "{":
            return MISSING
        i += 1
        while True:
            i = _skip(text, i)
            if text[i] != '"':
                return MISSING
            key, i = decoder.raw_decode(text, i)
            i = _skip(text, i)
            if text[i] != ":":
                return MISSING
            value, i = decoder.raw_decode(text, _skip(text, i + 1))
            if key == name:
                return value
            i = _skip(text, i)
            if text[i] != ",":
                return MISSING
            i += 1
    except (IndexError, ValueError):
        return MISSING


def coverable(blocks: Sequence[dict[str, Any] | None], ledger_position: int) -> int:
    """How many leading chain notifications cover only ledger rows already projected.

    A block's leaves are stamped onto ``custody_events`` rows, so a block must wait until
    the ledger follower has passed its ``last_notification``.
    """
    for i, block in enumerate(blocks):
        if block is not None and int(block["header"]["last_notification"]) > ledger_position:
            return i
    return len(blocks)
