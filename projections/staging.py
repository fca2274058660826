"""Notifications into a staged DuckDB view, parsed by DuckDB rather than by Python.

Handing DuckDB one list of JSON lines and letting ``json_transform`` parse them in bulk is
several times cheaper than decoding each stored event into domain objects in Python, and
a file of those lines read by ``read_json`` (a rebuild, see ``spill``) cheaper still; a
file of typed CSV columns (``spill_rows``, written by the native extension) is cheaper
again. Only item and party records are staged (the projection reads no others). The
stored rows and the layout of their JSON are the ledger's documented contract
(``ledger/stored.py``); which topics are items, flags and parties is the record codec's
(``ledger/records.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay_headmap import staged_csv
from eventsourcing.persistence import Mapper, Notification

from ledger.records import (
    ITEM_MODULE,
    PARTY_MODULE,
    is_flag_topic,
    is_owner_topic,
    is_party_topic,
)
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


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Page:
    """A page of ledger notifications ready for DuckDB, and what kinds of rows it holds
    (statements with nothing to do are skipped: each one scans the staged page).

    The lines are in ``lines``, or (a rebuild's reader process, see ``spill``) in the
    newline-delimited file ``file``, which DuckDB reads itself: JSON lines, or with ``csv``
    CSV lines (``spill_rows``). ``count`` counts every notification of the page; only
    item and party records are staged (no lines and no file: nothing to stage).
    """

    lines: list[str]
    first_id: int
    last_id: int
    has_parties: bool
    has_flags: bool
    count: int
    file: str | None = None
    has_owner: bool = False
    csv: bool = False

    def __len__(self) -> int:
        return self.count


def prepare(mapper: Mapper[Any], page: Sequence[Notification]) -> Page:
    """One JSON object per notification: a single list crosses into DuckDB faster than
    five (each Python value is converted on its own; the state string is copied anyway)."""
    return prepare_rows(mapper, rows_of(page))


#: Topic prefixes of the records a page stages (its statements read no others).
STAGED_PREFIXES = (f"{ITEM_MODULE}:", f"{PARTY_MODULE}:")


def staged_rows(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row[1].startswith(STAGED_PREFIXES)]


def prepare_rows(mapper: Mapper[Any], rows: Sequence[Row]) -> Page:
    """As ``prepare``, from rows read straight from the store (``ledger.stored``)."""
    bare = plain(mapper)
    staged = staged_rows(rows)
    text = [
        f'{{"n":{n},"t":"{t}","o":"{json_string_body(o)}","v":{v},"s":'
        f"{without_envelope(s).decode() if bare else state_json(mapper, s)}}}"
        for n, t, o, v, s in staged
    ]
    return _page(rows, staged, lines=text)


def _page(rows: Sequence[Row], staged: Sequence[Row], **fields: Any) -> Page:
    topics = {row[1] for row in staged}
    return Page(
        first_id=rows[0][0],
        last_id=rows[-1][0],
        has_parties=any(is_party_topic(t) for t in topics),
        has_flags=any(is_flag_topic(t) for t in topics),
        count=len(rows),
        has_owner=any(is_owner_topic(t) for t in topics),
        **fields,
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


def spill_rows(mapper: Mapper[Any], rows: Sequence[Row], path: Path) -> Page:
    """The page of ``rows`` in the file ``path``: as CSV columns (``CSV_COLUMNS``) where
    the native reading answers (plain JSON, see native/src/stagecsv.rs), else as
    ``spill`` writes it. DuckDB converts flat CSV columns in about half the CPU time of the
    nested JSON lines (bench/results/rebuild-speed-2026-12-04.md)."""
    staged = staged_rows(rows)
    if staged and plain(mapper):
        data = staged_csv(staged, [(p, k) for p, k, _ in CSV_COLUMNS], SPILL_MAX_LINE)
        if data is not None:
            path.write_bytes(data)
            return _page(rows, staged, lines=[], file=str(path), csv=True)
    return spill(prepare_rows(mapper, rows), path)


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


def _csv_columns(shape: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[Path_, str, str]]:
    """(path, kind for ``staged_csv``, DuckDB type) of each value of ``shape``, objects too
    (whether present: JSON null and absence both read as NULL)."""
    if isinstance(shape, dict):
        if path:
            yield path, "object", "BOOLEAN"
        for key, inner in shape.items():
            yield from _csv_columns(inner, (*path, key))
    elif isinstance(shape, list):
        if shape != ["string"]:
            raise TypeError(f"{path}: staged CSV holds arrays of strings only")
        yield path, "texts", "VARCHAR"
    else:
        yield path, "number" if shape == "number" else "text", _DUCKDB_TYPES[shape]


Path_ = tuple[str, ...]

#: State members a record never holds together (the staged ``c`` is the one it holds):
#: the second's fields share the first's CSV columns, and ``staged_csv`` refuses a record
#: that sets a column twice.
_SHARED = {"evidence": "custody"}
assert all(STATE_FIELDS[a] == STATE_FIELDS[b] for a, b in _SHARED.items())


def _shared_columns() -> tuple[list[tuple[list[Path_], str, str]], dict[Path_, str]]:
    """``CSV_COLUMNS`` and each path's column name."""
    columns: dict[Path_, tuple[list[Path_], str, str]] = {}
    for path, kind, duckdb_type in _csv_columns(STATE_FIELDS):
        own = (_SHARED.get(path[0], path[0]), *path[1:])
        columns.setdefault(own, ([], kind, duckdb_type))[0].append(path)
    names = {p: f"f{i}" for i, (paths, _, _) in enumerate(columns.values()) for p in paths}
    return list(columns.values()), names


#: The state's columns in a CSV page (``spill_rows``) after n, t, o and v, from
#: ``STATE_FIELDS``: (paths it is read from, kind for ``staged_csv``, DuckDB type).
CSV_COLUMNS, _CSV_NAME = _shared_columns()


def _from_csv(shape: Any, path: Path_ = ()) -> str:
    """SQL for the value at ``path`` from the CSV columns: what ``json_transform`` gives
    for it (``LINE_SHAPE``); an absent object is NULL, not an object of NULLs."""
    if isinstance(shape, dict):
        members = ", ".join(f"{_literal(k)}: {_from_csv(v, (*path, k))}" for k, v in shape.items())
        return f"CASE WHEN {_CSV_NAME[path]} THEN {{{members}}} END" if path else f"{{{members}}}"
    if isinstance(shape, list):
        return f"json_transform({_CSV_NAME[path]}, {_literal(json.dumps(_duckdb_shape(shape)))})"
    return _CSV_NAME[path]


_CSV_TYPES = {"n": "BIGINT", "t": "VARCHAR", "o": "VARCHAR", "v": "BIGINT"} | {
    _CSV_NAME[paths[0]]: kind for paths, _, kind in CSV_COLUMNS
}
_CSV_OPTIONS = (
    "header = false, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
    f"allow_quoted_nulls = false, max_line_size = {2 * SPILL_MAX_LINE}, columns = "
    "{" + ", ".join(f"'{k}': '{v}'" for k, v in _CSV_TYPES.items()) + "}"
)
#: The state's plain strings that the staged view shows under their own names.
_TOP_TEXTS = ("signal", "detail", "name", "role", "device_id", "public_key")


def _coalesce(first: str, second: str) -> str:
    """SQL for the first non-NULL of two (one, if both read the same columns)."""
    return first if first == second else f"coalesce({first}, {second})"


def _json_at(path: str) -> str:
    """SQL for a field of the staged line (``LINE_SHAPE``: n, t, o, v, s.…) read as JSON."""
    return f"x.{path}"


def _csv_at(path: str) -> str:
    """As ``_json_at`` from the CSV columns (``spill_rows``)."""
    if not path.startswith("s."):
        return path
    steps = tuple(path.split(".")[1:])
    shape: Any = STATE_FIELDS
    for step in steps:
        shape = shape[step]
    return _from_csv(shape, steps)


def stage_ledger(con: duckdb.DuckDBPyConnection, page: Page) -> None:
    """(Re)create TEMP view ``staged``: one row per notification, fields flattened.

    ``module`` and ``event`` split the topic (``domain.items``, ``Item.CustodyRecorded``);
    ``c`` is the custody event, or a flag's evidence; ``os`` an owner statement; ``ts`` the
    time it was recorded.
    The rows are parsed once into TEMP table ``staged_rows``, except from a file
    (``spill``) that only one statement reads (no parties, no flags): the view then reads
    the file as that statement runs, saving a copy of every row.
    """
    if page.csv and page.file is not None:
        # Each expression reads only its own columns (no whole state built and taken apart).
        at = _csv_at
        source = f"read_csv({_literal(page.file)}, {_CSV_OPTIONS})"
    else:
        at = _json_at
        source = (
            f"(SELECT x FROM read_json({_literal(page.file)}, format = 'newline_delimited', "
            f"maximum_object_size = {2 * SPILL_MAX_LINE}, columns = {_FILE_COLUMNS}) AS x)"
            if page.file is not None
            else f"(SELECT json_transform(unnest($1), '{LINE_SHAPE}') AS x)"
        )
    rows = f"""
        SELECT {at("n")} AS n, split_part({at("t")}, ':', 1) AS module,
               split_part({at("t")}, ':', 2) AS event, {at("o")} AS o, {at("v")} AS v,
               {at("s.timestamp._data_")} AS ts,
               {_coalesce(at("s.custody._data_"), at("s.evidence._data_"))} AS c,
               {at("s.statement._data_")} AS os,
               {", ".join(f"{at('s.' + f)} AS {f}" for f in _TOP_TEXTS)},
               {at("s.enrolled_at._data_")} AS enrolled_at,
               {at("s.revoked_at._data_")} AS revoked_at,
               {at("s.effective_from._data_")} AS effective_from
        FROM {source}"""
    if page.file is not None and not (page.has_parties or page.has_flags or page.has_owner):
        con.execute(f"CREATE OR REPLACE TEMP VIEW staged AS {rows}")
        return
    params = [] if page.file is not None else [page.lines]
    con.execute(f"CREATE OR REPLACE TEMP TABLE staged_rows AS {rows}", params)
    con.execute("CREATE OR REPLACE TEMP VIEW staged AS SELECT * FROM staged_rows")
