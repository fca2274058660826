"""Notifications into a staged DuckDB view, parsed by DuckDB rather than by Python.

Handing DuckDB one list of JSON lines and letting ``json_transform`` parse them in bulk is
several times cheaper than decoding each stored event into domain objects in Python, and
a file of those lines read by ``read_json`` (a rebuild, see ``spill``) cheaper still. The
stored rows and the layout of their JSON are the ledger's documented contract
(``ledger/stored.py``); which topics are items, flags and parties is the record codec's
(``ledger/records.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Mapper, Notification

from ledger.records import is_flag_topic, is_owner_topic, is_party_topic
from ledger.stored import STATE_FIELDS, Row, plain, rows_of, state_json, without_envelope

if TYPE_CHECKING:  # a rebuild's reader process imports this module, and needs no DuckDB
    import duckdb

_DUCKDB_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMPTZ", "number": "DOUBLE"}


def _duckdb_shape(shape: Any) -> Any:
    if isinstance(shape, dict):
        return {k: _duckdb_shape(v) for k, v in shape.items()}
    if isinstance(shape, list):  # an array of one type
        return [_duckdb_shape(shape[0])]
    return _DUCKDB_TYPES[shape]


#: A staged line: notification id, topic, originator id and version, and the stored state.
LINE_SHAPE = json.dumps(
    {"n": "BIGINT", "t": "VARCHAR", "o": "VARCHAR", "v": "BIGINT", "s": _duckdb_shape(STATE_FIELDS)}
)


def json_string_body(text: str) -> str:
    """``text`` escaped for use between JSON double quotes (ids rarely need it)."""
    if '"' in text or "\\" in text or not text.isprintable():
        return json.dumps(text)[1:-1]
    return text


@dataclass(frozen=True)
class Page:
    """A page of ledger notifications ready for DuckDB, and what kinds of rows it holds
    (statements with nothing to do are skipped: each one scans the staged page).

    The lines are in ``lines``, or (a rebuild's reader process, see ``spill``) in the
    newline-delimited file ``file``, which DuckDB reads itself.
    """

    lines: list[str]
    first_id: int
    last_id: int
    has_parties: bool
    has_flags: bool
    count: int
    file: str | None = None
    has_owner: bool = False

    def __len__(self) -> int:
        return self.count


def prepare(mapper: Mapper[Any], page: Sequence[Notification]) -> Page:
    """One JSON object per notification: a single list crosses into DuckDB faster than
    five (each Python value is converted on its own; the state string is copied anyway)."""
    return prepare_rows(mapper, rows_of(page))


def prepare_rows(mapper: Mapper[Any], rows: Sequence[Row]) -> Page:
    """As ``prepare``, from rows read straight from the store (``ledger.stored``)."""
    bare = plain(mapper)
    text = [
        f'{{"n":{n},"t":"{t}","o":"{json_string_body(o)}","v":{v},"s":'
        f"{without_envelope(s).decode() if bare else state_json(mapper, s)}}}"
        for n, t, o, v, s in rows
    ]
    topics = {row[1] for row in rows}
    return Page(
        lines=text,
        first_id=rows[0][0],
        last_id=rows[-1][0],
        has_parties=any(is_party_topic(t) for t in topics),
        has_flags=any(is_flag_topic(t) for t in topics),
        count=len(text),
        has_owner=any(is_owner_topic(t) for t in topics),
    )


#: Longest line ``spill`` writes to a file (DuckDB's JSON reader has an object size limit).
SPILL_MAX_LINE = 8 << 20


def spill(page: Page, path: Path) -> Page:
    """``page`` with its lines moved into the newline-delimited file ``path``.

    DuckDB reads such a file in native code (``read_json``), several times faster than it
    converts and unnests a Python list of strings; and a reader process passes only the
    name instead of pickling the lines. A JSON text holds no raw line break (encoders
    escape control characters), so one line is one notification. A page with a line too
    long for the reader stays as it is.
    """
    if not page.lines or max(map(len, page.lines)) > SPILL_MAX_LINE:
        return page
    with open(path, "wb") as f:
        f.write("\n".join(page.lines).encode())
        f.write(b"\n")
    return replace(page, lines=[], file=str(path))


def _duckdb_type(shape: object) -> str:
    if isinstance(shape, dict):
        return "STRUCT(" + ", ".join(f'"{k}" {_duckdb_type(v)}' for k, v in shape.items()) + ")"
    if isinstance(shape, list):
        return f"{_duckdb_type(shape[0])}[]"
    return str(shape)


#: ``LINE_SHAPE`` as ``read_json`` columns: the same fields, types and NULLs.
_FILE_COLUMNS = (
    "{" + ", ".join(f"'{k}': '{_duckdb_type(v)}'" for k, v in json.loads(LINE_SHAPE).items()) + "}"
)


def stage_ledger(con: duckdb.DuckDBPyConnection, page: Page) -> None:
    """(Re)create TEMP view ``staged``: one row per notification, fields flattened.

    ``module`` and ``event`` split the topic (``domain.items``, ``Item.CustodyRecorded``);
    ``c`` is the custody event, or a flag's evidence; ``os`` an owner statement; ``ts`` the
    time it was recorded.
    The rows are parsed once into TEMP table ``staged_rows``, except from a file
    (``spill``) that only one statement reads (no parties, no flags): the view then reads
    the file as that statement runs, saving a copy of every row.
    """
    if page.file is not None:
        source = (
            f"SELECT x FROM read_json({_literal(page.file)}, format = 'newline_delimited', "
            f"maximum_object_size = {2 * SPILL_MAX_LINE}, columns = {_FILE_COLUMNS}) AS x"
        )
    else:
        source = f"SELECT json_transform(unnest($1), '{LINE_SHAPE}') AS x"
    rows = f"""
        SELECT x.n, split_part(x.t, ':', 1) AS module, split_part(x.t, ':', 2) AS event,
               x.o, x.v, x.s.timestamp._data_ AS ts,
               coalesce(x.s.custody._data_, x.s.evidence._data_) AS c,
               x.s.statement._data_ AS os,
               x.s.signal, x.s.detail, x.s.name, x.s.role, x.s.device_id, x.s.public_key,
               x.s.enrolled_at._data_ AS enrolled_at, x.s.revoked_at._data_ AS revoked_at,
               x.s.effective_from._data_ AS effective_from
        FROM ({source})"""
    if page.file is not None and not (page.has_parties or page.has_flags or page.has_owner):
        con.execute(f"CREATE OR REPLACE TEMP VIEW staged AS {rows}")
        return
    params = [] if page.file is not None else [page.lines]
    con.execute(f"CREATE OR REPLACE TEMP TABLE staged_rows AS {rows}", params)
    con.execute("CREATE OR REPLACE TEMP VIEW staged AS SELECT * FROM staged_rows")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
