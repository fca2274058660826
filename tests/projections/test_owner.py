"""Owner statements in the projection: ``owner_statements``, and ``items`` agreeing with the
aggregates' own state (owner, report, consignment) after every step, page by page and
rebuilt."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from domain.owner_statement import OwnerKind, fingerprint
from domain.ownership import OwnerReport
from domain.privacy import claim_commitment, new_claim_code
from ledger.application import Report
from projections import projector
from projections.projector import Projector
from projections.schema import SCHEMA_VERSION
from streams.envelope import seal
from streams.owner_envelope import new_statement, seal_statement
from streams.owner_keys import OwnerKey
from tests.owners import sold_and_claimed
from tests.projections.support import Store, contents, make_store, rows
from tests.projections.test_rebuild import ITEM_FIELDS
from tests.projections.workload import Workload
from tests.support import World, custody

FIELDS = (*ITEM_FIELDS, "owner", "reported_missing", "version", "open_flags")
A, B, C = "urn:item:own-a", "urn:item:own-b", "urn:item:own-c"
DOC = Path(__file__).parents[2] / "docs" / "analysts.md"


def expected(store: Store, item_id: str) -> list[Any]:
    item = store.ledger.get_item(item_id)
    s = item.state
    values: list[Any] = [getattr(s, name) for name in ITEM_FIELDS]
    values += [s.ownership.owner, s.ownership.missing]
    values = [None if v is None else getattr(v, "value", v) for v in values]
    return [*values, item.version, len(s.flags)]


def projected(p: Projector, item_id: str) -> list[Any]:
    (row,) = rows(p.con, f"SELECT {', '.join(FIELDS)} FROM items WHERE item_id = ?", item_id)
    return list(row)


class Story:
    """Steps on the store, each followed by an incremental catch-up (pages of two) and a
    comparison of the item's row with the aggregate."""

    def __init__(self, store: Store, p: Projector) -> None:
        self.store, self.p = store, p
        self.world = World(store.ledger, store.keys)
        self.checked = 0

    def check(self, *items: str) -> None:
        self.p.catch_up()
        for item_id in items:
            assert projected(self.p, item_id) == expected(self.store, item_id), item_id
            self.checked += 1

    def state(self, key: OwnerKey, kind: str, item_id: str, **fields: Any) -> None:
        version = self.store.ledger.get_item(item_id).version
        statement = new_statement(key, kind, item_id, version, **fields)
        (decision,) = self.store.ledger.process(
            [OwnerReport(statement, seal_statement(statement, key))], None
        )
        assert decision.accepted, decision.refusal
        self.check(item_id)

    def report(self, *events: Any) -> None:
        reports = [Report(e, seal(e, self.store.keys[e.party_id])) for e in events]
        for decision in self.store.ledger.process(reports, None):
            assert decision.accepted, decision.refusal
        self.check(*{e.item_id for e in events})


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path, dict[str, OwnerKey]]:
    root = tmp_path_factory.mktemp("owned")
    store = make_store(root)
    path = root / "incremental.duckdb"
    with Projector(store.ledger, store.chain, path, page_size=2) as p:
        s = Story(store, p)
        alice, _ = sold_and_claimed(s.world, A)
        s.check(A)
        code = new_claim_code()
        salt, digest = claim_commitment(code)
        bob = OwnerKey.generate()
        s.state(alice, "transfer", A, claim_salt=salt, claim_digest=digest)
        s.state(bob, "claim", A, claim_code=code)
        s.state(bob, "report_missing", A, reason="stolen")
        s.state(bob, "withdraw_report", A)
        s.state(bob, "consign", A, consignee="osaka")
        assert projected(p, A)[ITEM_FIELDS.index("status")] == "in_transit"
        s.report(custody(14, "receiving", "osaka", A))

        # B: claimed and reported lost: a return is flagged and changes nothing; once the
        # report is withdrawn, a return ends the ownership.
        carol, _ = sold_and_claimed(s.world, B)
        s.state(carol, "report_missing", B, reason="lost")
        assert projected(p, B)[FIELDS.index("reported_missing")] == "lost"
        s.report(custody(9, "returning", "ginza", B))
        assert projected(p, B)[-1] == 1  # flagged reported_missing
        assert projected(p, B)[FIELDS.index("owner")] == fingerprint(carol.public_key_hex)
        s.state(carol, "withdraw_report", B)
        s.report(custody(11, "returning", "ginza", B))
        assert projected(p, B)[FIELDS.index("owner")] is None

        # C: claimed, consigned, then the receiving declared in error (a refold).
        dave, _ = sold_and_claimed(s.world, C)
        s.state(dave, "consign", C, consignee="dc")
        s.report(custody(10, "receiving", "dc", C))
        s.report(
            custody(11, "error_declaration", "dc", C, declared_event_id=f"{C}#e10",
                    error_reason="did_not_occur")
        )  # fmt: skip
        assert projected(p, C)[ITEM_FIELDS.index("status")] == "in_transit"
        assert s.checked >= 14
        store.anchor()
        p.catch_up()
    return store, path, {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


def test_owner_statements_are_a_table_with_the_owner_by_fingerprint(
    story: tuple[Store, Path, dict[str, OwnerKey]],
) -> None:
    store, path, keys = story
    fp = {name: fingerprint(k.public_key_hex) for name, k in keys.items()}
    with Projector(store.ledger, store.chain, path) as p:
        got = rows(
            p.con,
            "SELECT kind, owner, reason, consignee FROM owner_statements "
            "WHERE item_id = ? ORDER BY version",
            A,
        )
        everything = repr(rows(p.con, "SELECT * FROM owner_statements"))
        (recorded,) = rows(
            p.con,
            "SELECT count(*) FROM owner_statements s JOIN custody_events e "
            "USING (item_id, version, notification_id) WHERE e.record = 'owner_stated'",
        )
    assert got == [
        ("claim", fp["alice"], None, None),
        ("transfer", fp["alice"], None, None),
        ("claim", fp["bob"], None, None),
        ("report_missing", fp["bob"], "stolen", None),
        ("withdraw_report", fp["bob"], None, None),
        ("consign", fp["bob"], None, "osaka"),
    ]
    for key in keys.values():  # a key is shown by its fingerprint only
        assert key.public_key_hex not in everything
    assert recorded == (11,)


def test_items_show_owner_report_and_consignment_as_the_aggregate_does(
    story: tuple[Store, Path, dict[str, OwnerKey]],
) -> None:
    store, path, _ = story
    with Projector(store.ledger, store.chain, path) as p:
        for item_id in (A, B, C):
            assert projected(p, item_id) == expected(store, item_id)
        got = rows(p.con, "SELECT item_id, status, holder, owner FROM items ORDER BY item_id")
    assert got == [
        (A, "in_custody", "osaka", None),  # the receiving ended the ownership
        (B, "in_custody", "ginza", None),
        (C, "in_transit", None, None),  # consigned: in transit to dc, nobody owns it
    ]


@pytest.mark.parametrize("reader", ["in_process", "child_process"])
def test_rebuild_agrees_with_the_incremental_path(
    story: tuple[Store, Path, dict[str, OwnerKey]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reader: str,
) -> None:
    """Also when a child process reads the pages and hands them over as files."""
    store, path, _ = story
    if reader == "child_process":
        monkeypatch.setattr(projector, "PROCESS_READER_MIN", 0)
    with Projector(store.ledger, store.chain, tmp_path / "rebuilt.duckdb") as rebuilt:
        rebuilt.rebuild()
        rebuilt_content = contents(rebuilt.con)
    with Projector(store.ledger, store.chain, path) as incremental:
        assert contents(incremental.con) == rebuilt_content
    assert len(rebuilt_content["owner_statements"]) == 11


def test_the_documented_stolen_items_query_answers(tmp_path: Path) -> None:
    """docs/analysts.md's example query, run as written, finds the stolen item (and no
    longer once its report is withdrawn)."""
    (query,) = re.findall(r"<!-- stolen-query -->\n```sql\n(.*?)```", DOC.read_text(), re.S)
    store = make_store(tmp_path)
    world = World(store.ledger, store.keys)
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb") as p:
        s = Story(store, p)
        owner, _ = sold_and_claimed(world, A)
        s.state(owner, "report_missing", A, reason="stolen")
        assert [r[:2] for r in rows(p.con, query)] == [("loc-ginza", 1)]
        s.state(owner, "withdraw_report", A)
        assert rows(p.con, query) == []


def test_a_projection_of_the_previous_schema_is_projected_again(tmp_path: Path) -> None:
    """A file written before owner statements were projected (version 2, no such table nor
    columns) is rebuilt on open, not queried half-migrated."""
    store = make_store(tmp_path)
    sold_and_claimed(World(store.ledger, store.keys), A)
    path = tmp_path / "old.duckdb"
    with Projector(store.ledger, store.chain, path) as p:
        p.catch_up()
        expected_content = contents(p.con)
    with duckdb.connect(str(path)) as con:  # as version 2 left it
        con.execute("DROP TABLE owner_statements")
        con.execute("DROP INDEX items_item")  # an indexed table cannot be altered
        con.execute("ALTER TABLE items DROP COLUMN owner")
        con.execute("ALTER TABLE items DROP COLUMN reported_missing")
        con.execute("UPDATE projection_meta SET value = '2' WHERE key = 'schema_version'")
    assert SCHEMA_VERSION > 2
    with Projector(store.ledger, store.chain, path) as p:
        assert p.position("ledger") == 0
        p.catch_up()
        assert contents(p.con) == expected_content


def test_a_random_workload_with_owner_statements_agrees_with_the_aggregates(
    tmp_path: Path,
) -> None:
    """Owner statements among random custody reports, declarations and flags, projected in
    pages of three while the history grows: every item's row equals its aggregate's state,
    and a rebuild gives the same content."""
    store = make_store(tmp_path)
    workload = Workload(store, seed=7, owners=True)
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb", page_size=3) as p:
        for round_ in range(30):
            workload.run(30)
            p.catch_up()
            kinds = {r[0] for r in rows(p.con, "SELECT DISTINCT kind FROM owner_statements")}
            if round_ >= 3 and kinds == set(OwnerKind):
                break
        assert kinds == set(OwnerKind)
        item_ids = [r[0] for r in rows(p.con, "SELECT item_id FROM items")]
        assert len(item_ids) >= 12
        for item_id in item_ids:
            assert projected(p, item_id) == expected(store, item_id), item_id
        (consigned,) = rows(
            p.con,
            "SELECT count(*) FROM owner_statements s JOIN items i USING (item_id) "
            "WHERE s.kind = 'consign'",
        )
        assert consigned[0] > 0
        incremental = contents(p.con)
    with Projector(store.ledger, store.chain, tmp_path / "rebuilt.duckdb") as rebuilt:
        rebuilt.rebuild()
        assert contents(rebuilt.con) == incremental
