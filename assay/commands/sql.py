"""``assay sql`` and ``assay history``: answers from the analyst snapshot (read-only)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assay.cli import CommandError
from assay.commands import settings_from

if TYPE_CHECKING:
    import duckdb


def register(sub: Any) -> None:
    sql = sub.add_parser("sql", help="run a SQL query on the analyst snapshot (read-only)")
    sql.add_argument("query", help='e.g. "SELECT * FROM inventory_by_location"')
    _formats(sql)
    sql.set_defaults(handler=sql_handler)

    hist = sub.add_parser("history", help="an item's events, oldest first, and their anchors")
    hist.add_argument("item_id")
    _formats(hist, csv_too=False)
    hist.add_argument(
        "--epcis", action="store_true", help="as a GS1 EPCIS 2.0 document (from the event store)"
    )
    hist.set_defaults(handler=history_handler)


def _formats(parser: argparse.ArgumentParser, csv_too: bool = True) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="a JSON array of objects")
    if csv_too:
        group.add_argument("--csv", action="store_true", help="CSV with a header row")


def _connect(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    from projections.analyst import NoSnapshot, open_analyst

    try:
        return open_analyst(settings_from(args))
    except NoSnapshot as e:
        raise CommandError(str(e)) from None


def sql_handler(args: argparse.Namespace) -> int:
    with _connect(args) as con:
        import duckdb

        try:
            cursor = con.execute(args.query)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
        except duckdb.Error as e:
            raise CommandError(f"query failed: {e}") from None
    write(columns, rows, "json" if args.json else "csv" if args.csv else "table")
    return 0


def history_handler(args: argparse.Namespace) -> int:
    if args.epcis:
        from assay.commands.epcis import epcis_history

        return epcis_history(args)
    from projections.analyst import corrected_view, history, snapshot_taken_at

    with _connect(args) as con:
        events = history(con, args.item_id)
        taken = snapshot_taken_at(con)
        view = corrected_view(con, args.item_id)
    if not events:
        raise CommandError(
            f"no item {args.item_id!r} in the analyst snapshot (taken at {taken}); "
            "it may be newer than the snapshot, or unknown"
        )
    columns = list(events[0])
    write(columns, [tuple(e.values()) for e in events], "json" if args.json else "table")
    declared = [e for e in events if e["declared_in_error"]]
    if declared and view is not None and not args.json:
        sys.stdout.write(_corrections_text(declared, view))
    return 0


def _corrections_text(declared: list[dict[str, Any]], view: dict[str, Any]) -> str:
    """Below the history (every event, as recorded): which were declared in error, and the
    item's corrected view without them."""
    lines = [
        f"v{e['version']} {e['kind']} declared in error by {e['declared_by']} at "
        f"{_text(e['declared_at'])}"
        + (f" ({e['declared_reason']})" if e["declared_reason"] else "")
        for e in declared
    ]
    where = f"held by {view['holder']} at {view['location']}" if view["holder"] else ""
    if view["consignee"]:
        where = f"to {view['consignee']}"
    state = ", ".join(filter(None, [str(view["status"]), where]))
    lines.append(f"corrected view (without the {len(declared)} event(s) above): {state}")
    return "\n".join(lines) + "\n"


def write(columns: Sequence[str], rows: Sequence[tuple[Any, ...]], fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        json.dump([dict(zip(columns, r, strict=True)) for r in rows], out, default=_json, indent=1)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([[_text(v, csv=True) for v in r] for r in rows])
    else:
        out.write(table(columns, rows))


def table(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    cells = [[_text(v) for v in r] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    line = "  ".join("-" * w for w in widths)
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), line]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(x.rstrip() for x in lines) + "\n"


def _text(value: Any, csv: bool = False) -> str:
    if value is None:
        return "" if csv else "NULL"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, default=_json)
    return str(value)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
