"""Random single-byte tampering of a real store, and whether ``audit`` finds and locates it.

The long run (issue 9: 1,000 corruptions, a sample also through the ``assay audit`` CLI)::

    uv run python -m tests.anchoring.tamper --rounds 1000 --cli-every 50

prints the count detected and a breakdown by stored field; it exits 1 if any covered
corruption was missed or not located, or if the audit ever crashed. ``test_tamper.py``
runs a CI-sized variant of the same harness.

The store (``build_store``): parties and devices, a few dozen items with their tag
claims, custody stories, sale scans that raise counterfeit flags and a scan of an
unknown item, sealed by the real anchor into blocks of 20 events with a signed
checkpoint — then a tail of events recorded after the last seal. Everything lives in
two SQLite files (ledger and chain), the checkpoint file and the platform's public key.

One round: copy the store, change one byte of one stored value behind the applications'
back (``sqlite3`` ``UPDATE``, or the checkpoint file), reopen and audit. The byte is
picked at random: first the store (ledger events or chain blocks, even odds), then a
record, a column and a byte of it:

* ledger ``stored_events``: ``state`` (the JSON blob: envelope, decoded custody copy,
  flag fields, timestamp, JSON syntax), ``originator_id``, ``originator_version``,
  ``topic`` and the notification id (``rowid``);
* chain: the block events (the same columns; the state holds header, leaves, items,
  timestamp), the block index (``anchored_blocks``: height, block hash, header JSON,
  packed Merkle tree), the leaf index (``anchored_leaves``: every column), the stored map
  state (``anchored_map_bands``, ``anchored_map_current``; ``_corrupt_map_state``) and the
  checkpoint file.

Text columns may end up as invalid UTF-8 (written with ``CAST(? AS TEXT)``), integers
change one byte of their 8-byte two's complement, and a change is redrawn only when it
would leave the value equal or break a primary key (SQLite itself refuses those).

A corruption is *detected* when the audit fails, *located* when the failure names the
place: the ledger event's notification id or its item id and version (or a block's
notification range holding it: the records digest names no single record), or the
block height, chain record id or checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from anchoring.audit import UNEXPECTED, AuditReport, audit_stores, read_checkpoint_text
from anchoring.chain import Chain
from anchoring.checkpoint import Signer, Verifier
from anchoring.keyfiles import write_verifier_key
from anchoring.sealer import SealPolicy
from domain.custody import CustodyEvent
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from ledger.records import is_item_topic
from streams.envelope import seal
from tests.anchoring.stores import new_anchor
from tests.support import custody, make_world, story_events

ORIGIN = "assay.test/tamper"
SEED = bytes(range(32))
ITEMS = 30
BLOCK_EVENTS = 20
TAIL_ITEMS = 2


# ----- the store ---------------------------------------------------------------------------


def build_store(root: Path, items: int = ITEMS) -> Path:
    """A sealed ledger and chain with a tail of unsealed events; returns ``root``."""
    if root.exists():
        shutil.rmtree(root)
    world = make_world(root)
    signer = Signer.from_seed(ORIGIN, SEED)

    def record(events: list[CustodyEvent]) -> None:
        for event in events:
            world.ledger.process([Report(event, seal(event, world.keys[event.party_id]))], None)

    chain = Chain(store_env("", root / "chain.sqlite"))
    policy = SealPolicy(max_events=BLOCK_EVENTS, max_seconds=1e9)
    anchor = new_anchor(world.ledger, chain, signer, root, origin=ORIGIN, policy=policy)
    for n in range(items):
        item = f"urn:item:{n}"
        record(story_events(item, f"TAG-{n}"))
        if n % 5 == 0:  # a scan after the sale: a counterfeit flag with evidence
            record([custody(9, "observing", "osaka", item, event_id=f"{item}#late")])
    record([custody(1, "observing", "osaka", "urn:item:stray")])  # an unknown item
    anchor.catch_up()
    for n in range(items, items + TAIL_ITEMS):  # recorded, not sealed yet
        record(story_events(f"urn:item:{n}", f"TAG-{n}")[:3])
    write_verifier_key(root / "keys" / "platform.pub", signer.verifier())
    for name in ("ledger.sqlite", "chain.sqlite"):
        with sqlite3.connect(root / name) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    return root


def copy_store(template: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(template, target)


# ----- corruptions -------------------------------------------------------------------------


@dataclass
class Corruption:
    store: str  # "ledger" or "chain"
    target: str  # e.g. "stored_events.state", "block_index.tree", "checkpoint"
    part: str = ""  # finer: the JSON member of a state blob, the ledger row's kind
    category: str = ""  # ledger rows: item/other × sealed/tail
    places: list[str] = field(default_factory=list)  # regexes; one must match
    detail: str = ""
    notification: int = 0  # ledger rows: a message naming a range holding it locates it

    @property
    def label(self) -> str:
        return f"{self.store}:{self.target}" + (f"[{self.part}]" if self.part else "")

    @property
    def covered(self) -> bool:
        """Whether the chain commits to this byte (see ``test_tamper``'s docstring): every
        byte of a sealed ledger record (leaves, signatures, the blocks' records digest),
        every byte of the chain (a block event's own timestamp is its signed sealed_at);
        no tail byte."""
        return not self.category.endswith("tail")

    def located_by(self, message: str) -> bool:
        if any(re.search(p, message) for p in self.places):
            return True
        return bool(self.notification) and any(
            int(first) <= self.notification <= int(last)
            for first, last in re.findall(r"notifications (\d+)\.\.(\d+)", message)
        )


def _word(text: str) -> str:
    return re.escape(text) + r"(?![0-9])"


def _flip(value: bytes, rng: random.Random) -> bytes:
    position = rng.randrange(len(value))
    new = rng.choice([b for b in range(256) if b != value[position]])
    return value[:position] + bytes([new]) + value[position + 1 :]


def _flip_int(value: int, rng: random.Random) -> int:
    raw = bytearray(struct.pack(">q", value))
    raw[rng.randrange(8)] ^= rng.randrange(1, 256)
    return int(struct.unpack(">q", bytes(raw))[0])


def json_part(text: bytes, position: int) -> str:
    """The member of a stored event's JSON state that holds byte ``position``."""
    try:
        data = json.loads(text)
        decoded = text.decode()
    except ValueError:
        return "?"
    decoder = json.JSONDecoder()
    if len(decoded) != len(text):
        return "?"  # non-ASCII: character and byte positions differ (not in these stores)

    def walk(value: Any, start: int, path: str) -> str:
        if not isinstance(value, dict) or (set(value) == {"_type_", "_data_"}):
            return path
        for key in value:
            needle = json.dumps(key) + ":"
            at = decoded.index(needle, start)
            begin = at + len(needle)
            _, end = decoder.raw_decode(decoded, begin)
            if begin <= position < end:
                inner = f"{path}.{key}" if path else str(key)
                if key == "header":
                    return walk(value[key], begin, inner)
                return inner
            if at <= position < begin:
                return "<json syntax>"
            start = end
        return "<json syntax>"

    return walk(data, 0, "")


def _ledger_rows(conn: sqlite3.Connection) -> list[tuple[int, str, int, str]]:
    return conn.execute(
        "SELECT rowid, originator_id, originator_version, topic FROM stored_events ORDER BY rowid"
    ).fetchall()


def _sealed_upto(chain_db: Path) -> int:
    with sqlite3.connect(chain_db) as conn:
        (state,) = conn.execute(
            "SELECT state FROM stored_events ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
    conn.close()
    return int(json.loads(state)["header"]["last_notification"])


STATE_WEIGHT = 6  # of 10 for stored events: the state blob; the other columns share the rest


def corrupt(root: Path, rng: random.Random) -> Corruption:
    """Change one byte of one stored value under ``root``; returns what was changed."""
    for _ in range(100):
        try:
            if rng.random() < 0.5:
                return _corrupt_ledger(root, rng)
            return _corrupt_chain(root, rng)
        except sqlite3.IntegrityError:  # a key collision: SQLite refuses it; draw again
            continue
    raise RuntimeError("no corruption could be applied")


def _event_column(rng: random.Random) -> str:
    if rng.randrange(10) < STATE_WEIGHT:
        return "state"
    return rng.choice(["originator_id", "originator_version", "topic", "rowid"])


def _update_event(
    conn: sqlite3.Connection, rowid: int, column: str, rng: random.Random
) -> tuple[str, str]:
    """One byte of one column of ``stored_events`` row ``rowid``; returns (part, detail)."""
    if column in ("originator_version", "rowid"):
        (old,) = conn.execute(
            f"SELECT {column} FROM stored_events WHERE rowid=?", (rowid,)
        ).fetchone()
        new = _flip_int(old, rng)
        with conn:
            conn.execute(f"UPDATE stored_events SET {column}=? WHERE rowid=?", (new, rowid))
        return "", f"{old} -> {new}"
    (old_value,) = conn.execute(
        f"SELECT CAST({column} AS BLOB) FROM stored_events WHERE rowid=?", (rowid,)
    ).fetchone()
    old_bytes = bytes(old_value)
    new_bytes = _flip(old_bytes, rng)
    position = next(i for i, (a, b) in enumerate(zip(old_bytes, new_bytes, strict=True)) if a != b)
    cast = "?" if column == "state" else "CAST(? AS TEXT)"
    with conn:
        conn.execute(f"UPDATE stored_events SET {column}={cast} WHERE rowid=?", (new_bytes, rowid))
    part = json_part(old_bytes, position) if column == "state" else ""
    old_byte, new_byte = old_bytes[position : position + 1], new_bytes[position : position + 1]
    detail = f"byte {position}: {old_byte!r} -> {new_byte!r}"
    return part, detail


def _corrupt_ledger(root: Path, rng: random.Random) -> Corruption:
    sealed = _sealed_upto(root / "chain.sqlite")
    conn = sqlite3.connect(root / "ledger.sqlite")
    try:
        rowid, item_id, version, topic = rng.choice(_ledger_rows(conn))
        column = _event_column(rng)
        part, detail = _update_event(conn, rowid, column, rng)
    finally:
        conn.close()
    kind = "item" if is_item_topic(topic) else "other"
    category = f"{kind}-{'sealed' if rowid <= sealed else 'tail'}"
    if column == "state" and kind == "item" and part.startswith("envelope"):
        part = "envelope"
    return Corruption(
        "ledger",
        f"stored_events.{column}",
        part if column == "state" else "",
        category,
        [_word(f"ledger event {rowid}"), _word(f"ledger notification {rowid}"),
         re.escape(f"{item_id} v{version}") + r"(?![0-9])"],
        f"row {rowid} ({item_id} v{version}): {detail}",
        rowid,
    )  # fmt: skip


def _corrupt_chain(root: Path, rng: random.Random) -> Corruption:
    db = root / "chain.sqlite"
    table = rng.choices(
        ["stored_events", "anchored_blocks", "anchored_leaves", "checkpoint", "map_state"],
        [5, 2, 2, 1, 1],
    )[0]
    if table == "map_state":
        return _corrupt_map_state(db, rng)
    if table == "checkpoint":
        path = root / "checkpoint"
        old = path.read_bytes()
        path.write_bytes(_flip(old, rng))
        return Corruption("chain", "checkpoint", places=["checkpoint"])
    conn = sqlite3.connect(db)
    try:
        if table == "stored_events":
            (count,) = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()
            rowid = rng.randrange(1, count + 1)
            column = _event_column(rng)
            part, detail = _update_event(conn, rowid, column, rng)
            height = rowid - 1
            places = [_word(f"block {height}"), _word(f"chain record {rowid}")]
            return Corruption("chain", f"block_events.{column}", part, "", places, detail)
        if table == "anchored_blocks":
            column = rng.choice(["height", "block_hash", "header", "tree"])
            heights = [h for (h,) in conn.execute("SELECT height FROM anchored_blocks")]
            height = rng.choice(heights)
            detail = _update_cell(conn, table, column, "height=?", (height,), rng)
            return Corruption(
                "chain", f"block_index.{column}", places=[_word(f"block {height}")], detail=detail
            )
        column = rng.choice(["item_id", "version", "height", "leaf_index", "leaf_hash"])
        item_id, version, height = rng.choice(
            conn.execute("SELECT item_id, version, height FROM anchored_leaves").fetchall()
        )
        detail = _update_cell(
            conn, table, column, "item_id=? AND version=?", (item_id, version), rng
        )
        places = [_word(f"block {height}"), re.escape(f"{item_id} v{version}") + r"(?![0-9])"]
        return Corruption("chain", f"leaf_index.{column}", places=places, detail=detail)
    finally:
        conn.close()


def _corrupt_map_state(db: Path, rng: random.Random) -> Corruption:
    """One byte of the stored map state (anchoring/headbands.py): a band row (any column
    it fills), the head row's root or size, or a current entry's key or value. The head
    row's id and height are left alone: a state whose head names another block is rebuilt
    from the entries on open (by design), so there is nothing left for the audit to find."""
    conn = sqlite3.connect(db)
    try:
        table = rng.choice(["anchored_map_bands", "anchored_map_current"])
        if table == "anchored_map_current":
            (key,) = rng.choice(conn.execute(f"SELECT key FROM {table}").fetchall())
            column = rng.choice(["key", "value"])
            detail = _update_cell(conn, table, column, "key=?", (key,), rng)
        else:
            row = rng.choice(conn.execute(f"SELECT * FROM {table}").fetchall())
            filled = [
                c
                for c, v in zip(("id", "hash", "leaf_key", "value"), row, strict=True)
                if v is not None
            ]
            column = "hash" if row[0] == -1 else rng.choice(filled)
            if row[0] == -1 and rng.random() < 0.5:  # the size, not the height
                value = bytes(row[3])
                flipped = value[:8] + _flip(value[8:], rng)
                with conn:
                    conn.execute(f"UPDATE {table} SET value=? WHERE id=-1", (flipped,))
                column, detail = "value", "head size: changed"
            else:
                detail = _update_cell(conn, table, column, "id=?", (row[0],), rng)
    finally:
        conn.close()
    places = [re.escape("stored map state")]
    return Corruption("chain", f"{table}.{column}", places=places, detail=detail)


def _update_cell(
    conn: sqlite3.Connection,
    table: str,
    column: str,
    where: str,
    key: tuple[Any, ...],
    rng: random.Random,
) -> str:
    (old,) = conn.execute(f"SELECT {column} FROM {table} WHERE {where}", key).fetchone()
    new: Any
    setter = "?"
    if isinstance(old, int):
        new = _flip_int(old, rng)
    elif isinstance(old, str):
        new = _flip(old.encode(), rng)
        setter = "CAST(? AS TEXT)"
    else:
        new = _flip(bytes(old), rng)
    with conn:
        conn.execute(f"UPDATE {table} SET {column}={setter} WHERE {where}", (new, *key))
    return f"{column}: changed"


# ----- audit -------------------------------------------------------------------------------


def run_audit(root: Path) -> AuditReport:
    """What ``assay audit`` runs, as a function: both stores, the key and the checkpoint."""
    verifier = Verifier.from_text((root / "keys" / "platform.pub").read_text().strip())
    checkpoint = read_checkpoint_text(root / "checkpoint")
    return audit_paths(root, verifier, checkpoint)


def audit_paths(root: Path, verifier: Verifier, checkpoint: str | None) -> AuditReport:
    return audit_stores(
        lambda: CustodyLedger(store_env("", root / "ledger.sqlite")),
        lambda: Chain(store_env("", root / "chain.sqlite")),
        verifier,
        checkpoint,
    )


def run_cli(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    return subprocess.run(
        [sys.executable, "-m", "assay", "--data-dir", str(root), "audit"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@dataclass
class Outcome:
    corruption: Corruption
    detected: bool
    located: bool
    message: str
    crashed: str = ""
    cli: str = ""  # "" (not run), "ok" or what was wrong


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def failures(self) -> list[Outcome]:
        """Covered corruptions missed or not located, crashes and CLI disagreements."""
        return [
            o
            for o in self.outcomes
            if o.crashed
            or (o.cli not in ("", "ok"))
            or (o.corruption.covered and not (o.detected and o.located))
        ]

    def summary(self) -> str:
        rounds = len(self.outcomes)
        detected = sum(o.detected for o in self.outcomes)
        located = sum(o.detected and o.located for o in self.outcomes)
        covered = [o for o in self.outcomes if o.corruption.covered]
        lines = [
            f"{rounds} corruptions: {detected} detected, {located} detected and located; "
            f"{len(covered)} on committed bytes: {sum(o.detected for o in covered)} detected",
            f"CLI runs: {sum(o.cli != '' for o in self.outcomes)}, "
            f"agreeing: {sum(o.cli == 'ok' for o in self.outcomes)}",
        ]
        by_label: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            counts = by_label.setdefault(o.corruption.label, Counter())
            counts["n"] += 1
            counts["detected"] += o.detected
            counts["located"] += o.detected and o.located
        lines.append(f"{'field':58} {'n':>5} {'found':>6} {'named':>6}")
        for label in sorted(by_label):
            c = by_label[label]
            lines.append(f"{label:58} {c['n']:5} {c['detected']:6} {c['located']:6}")
        categories: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            if o.corruption.category:
                counts = categories.setdefault(o.corruption.category, Counter())
                counts["n"] += 1
                counts["detected"] += o.detected
        for name in sorted(categories):
            c = categories[name]
            lines.append(f"ledger rows, {name:45} {c['n']:5} {c['detected']:6}")
        return "\n".join(lines)


def one_round(template: Path, work: Path, rng: random.Random, *, cli: bool = False) -> Outcome:
    copy_store(template, work)
    corruption = corrupt(work, rng)
    try:
        report = run_audit(work)
    except Exception as e:  # a crash is a failure of the audit, recorded, not raised
        return Outcome(corruption, False, False, "", crashed=f"{type(e).__name__}: {e}")
    message = report.divergence or ""
    if message.startswith(UNEXPECTED):
        return Outcome(corruption, True, False, message, crashed=message)
    located = corruption.located_by(message)
    outcome = Outcome(corruption, not report.ok, located, message)
    if cli:
        done = run_cli(work)
        problems = []
        if done.returncode != (0 if report.ok else 1):
            problems.append(f"exit {done.returncode}")
        if "Traceback" in done.stderr:
            problems.append("traceback: " + done.stderr.strip().splitlines()[-1])
        if not report.ok and message not in done.stdout:
            problems.append(f"says {done.stdout.strip()!r}")
        outcome = replace(outcome, cli="; ".join(problems) or "ok")
    return outcome


def campaign(
    template: Path,
    work: Path,
    rounds: int,
    seed: int,
    cli_every: int = 0,
    progress: Callable[[int, Outcome], None] | None = None,
) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    for n in range(rounds):
        outcome = one_round(template, work, rng, cli=bool(cli_every) and n % cli_every == 0)
        tally.add(outcome)
        if progress is not None:
            progress(n, outcome)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.anchoring.tamper", description=__doc__)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--cli-every", type=int, default=50, help="also run `assay audit` every N")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every round")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="assay-tamper-") as tmp:
        base = args.work_dir or Path(tmp)
        template = build_store(base / "template")
        clean = run_audit(template)
        if not clean.ok:
            print(f"the untouched store does not audit clean: {clean.divergence}")
            return 1
        started = time.monotonic()

        def progress(n: int, o: Outcome) -> None:
            if args.verbose or o in tally_failures(o):
                state = "FOUND" if o.detected else "missed"
                print(f"{n:5} {state:6} {o.corruption.label} {o.corruption.detail}: "
                      f"{o.crashed or o.message}{' CLI: ' + o.cli if o.cli else ''}")  # fmt: skip

        tally = campaign(template, base / "round", args.rounds, args.seed, args.cli_every, progress)
        print(tally.summary())
        print(f"({time.monotonic() - started:.0f} s)")
        failures = tally.failures()
        for o in failures:
            print(f"FAILED {o.corruption.label} {o.corruption.detail}: {o.crashed or o.message} "
                  f"{o.cli}")  # fmt: skip
        return 1 if failures else 0


def tally_failures(o: Outcome) -> list[Outcome]:
    return Tally([o]).failures()


if __name__ == "__main__":
    sys.exit(main())
