"""The page's verifier on format version 2 (docs/proof-bundle.md §10), in headless Chromium.

Bundles come from a real store (the ledger and the real anchor, head map included): a
version 2 bundle, an absence bundle and `newer` objects from later checkpoints, each
verified as it is and after one change per check of §10.6. Every case names the step the
spec expects; the page and the reference (anchoring/verify.py) must both fail at exactly
that step (or verify, with `absent` and `completeness` as expected).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from anchoring.checkpoint import Signer
from anchoring.headmap import item_key
from tests.server.complete import Case, Chains, build_chains, reference_step, run_in_page
from tests.server.conftest import STATIC
from tests.server.stores import ITEM

if TYPE_CHECKING:
    from playwright.sync_api import Page

Bundle = dict[str, Any]
UNKNOWN = "urn:epc:id:sgtin:0614141.107346.9999"


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Chains:
    return build_chains(tmp_path_factory.mktemp("complete") / "assay-data", UNKNOWN)


def _flip(text: str, at: int = 5) -> str:
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]


def _micros(sealed_at: str) -> int:
    at = datetime.strptime(sealed_at, "%Y-%m-%dT%H:%M:%S.%fZ")
    return (at - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def _later(bundle: Bundle, seconds: float) -> float:
    """``now`` in ms, ``seconds`` after the bundle's head was sealed."""
    return _micros(bundle["head"]["sealed_at"]) / 1000 + seconds * 1000


def _as_v1(b: Bundle) -> None:
    b.update(version=1)
    b.pop("map_entry")
    b.pop("map_proof")


def _drop_last_keep_entry_honest(b: Bundle) -> None:
    b["events"].pop()
    last = b["events"][-1]
    b["map_entry"] = {k: last[k] for k in ("version", "leaf", "height", "leaf_index")}


def _sibling(b: Bundle, index: int, value: str | None) -> None:
    b["map_proof"]["siblings"][index] = value


def _flip_a_sibling(b: Bundle) -> None:
    siblings = b["map_proof"]["siblings"]
    at = next(i for i, s in enumerate(siblings) if s is not None)
    siblings[at] = _flip(siblings[at])


V2: dict[str, tuple[Callable[[Bundle], Any], str | None]] = {
    "untouched": (lambda b: None, None),
    "no map_entry": (lambda b: b.pop("map_entry"), "bundle_format"),
    "map_entry a list": (lambda b: b.update(map_entry=[1]), "bundle_format"),
    "no map_proof": (lambda b: b.pop("map_proof"), "bundle_format"),
    "newer a list": (lambda b: b.update(newer=[]), "bundle_format"),
    "version 3": (lambda b: b.update(version=3), "bundle_format"),
    "version 2.0": (lambda b: b.update(version=2.0), "bundle_format"),
    "map_entry version 0": (lambda b: b["map_entry"].update(version=0), "bundle_format"),
    "map_entry version 1.0": (lambda b: b["map_entry"].update(version=1.0), "bundle_format"),
    "map_entry leaf upper case": (
        lambda b: b["map_entry"].update(leaf=b["map_entry"]["leaf"].upper()),
        "bundle_format",
    ),
    "map_entry height -1": (lambda b: b["map_entry"].update(height=-1), "bundle_format"),
    "map_entry no leaf_index": (lambda b: b["map_entry"].pop("leaf_index"), "bundle_format"),
    "siblings not a list": (lambda b: b["map_proof"].update(siblings={}), "bundle_format"),
    "sibling not hex": (lambda b: _sibling(b, 0, "xyz"), "bundle_format"),
    "257 siblings": (
        lambda b: b["map_proof"].update(siblings=["ab" * 32] * 257),
        "bundle_format",
    ),
    "no other": (lambda b: b["map_proof"].pop("other"), "bundle_format"),
    "other value short": (
        lambda b: b["map_proof"].update(other={"key": "ab" * 32, "value": "00"}),
        "bundle_format",
    ),
    "other on a membership proof": (
        lambda b: b["map_proof"].update(other={"key": "ab" * 32, "value": "00" * 56}),
        "map_proof",
    ),
    "EMPTY written as hex": (
        lambda b: b["map_proof"]["siblings"].append("00" * 32),
        "map_proof",
    ),
    "first sibling null": (lambda b: _sibling(b, 0, None), "map_proof"),
    "sibling edited": (_flip_a_sibling, "map_root"),
    "sibling added": (lambda b: b["map_proof"]["siblings"].append("ab" * 32), "map_root"),
    "map_entry version edited": (
        lambda b: b["map_entry"].update(version=b["map_entry"]["version"] + 1),
        "map_root",
    ),
    "last event dropped": (lambda b: b["events"].pop(), "history_incomplete"),
    "last event dropped, entry edited to match": (_drop_last_keep_entry_honest, "map_root"),
    "as version 1": (_as_v1, None),
    # §2: members not named are ignored, in the map's objects as at the top level.
    "map_entry extra member": (lambda b: b["map_entry"].update(note="x"), None),
    "map_proof extra member": (lambda b: b["map_proof"].update(depth=3), None),
    "event tampered": (
        lambda b: b["events"][3]["summary"].update(location="elsewhere"),
        "summary_mismatch",
    ),
}


def _v2_cases(c: Chains) -> list[Case]:
    cases = []
    for name, (mutate, want) in V2.items():
        b = copy.deepcopy(c.at_n)
        mutate(b)
        done = "inclusion_only" if name == "as version 1" else "complete"
        cases.append(
            Case(f"v2 {name}", b, c.key, want, completeness=done if want is None else None)
        )
    return cases


def _with_newer(c: Chains, newer: Bundle, edit: Callable[[Bundle], Any] | None = None) -> Bundle:
    b = copy.deepcopy(c.at_n)
    b["newer"] = copy.deepcopy(newer)
    if edit is not None:
        edit(b["newer"])
    return b


def _size(newer: Bundle) -> int:
    return int(newer["checkpoint"].split("\n")[1])


def _other_key() -> str:
    return Signer.from_seed("assay.example/custody-log", bytes(32)).verifier_text()


def _newer_cases(c: Chains) -> list[Case]:
    def case(name: str, newer: Bundle, want: str | None, edit: Any = None) -> Case:
        size = _size(newer) if want is None else None
        bundle = _with_newer(c, newer, edit)
        return Case(f"newer {name}", bundle, c.key, want, completeness="complete", size=size)

    older = copy.deepcopy(c.at_m2)
    older["newer"] = copy.deepcopy(c.newer_same)
    return [
        case("same head", c.newer_same, None),
        case("extra member", c.newer_same, None, lambda n: n.update(note="x")),
        case("later, entry unchanged", c.newer_unchanged, None),
        case("later, entry changed", c.newer_changed, "newer_events"),
        case("acc_proof edited", c.newer_unchanged, "checkpoint_consistency",
             lambda n: n["acc_proof"].__setitem__(0, _flip(n["acc_proof"][0]))),
        case("acc_proof cut short", c.newer_unchanged, "checkpoint_consistency",
             lambda n: n["acc_proof"].pop()),
        case("same head with a proof", c.newer_same, "checkpoint_consistency",
             lambda n: n["acc_proof"].append("ab" * 32)),
        case("no acc_proof", c.newer_unchanged, "bundle_format", lambda n: n.pop("acc_proof")),
        case("acc_proof not hex", c.newer_unchanged, "bundle_format",
             lambda n: n["acc_proof"].__setitem__(0, "zz")),
        case("no map_proof", c.newer_unchanged, "bundle_format", lambda n: n.pop("map_proof")),
        case("map_entry a string", c.newer_unchanged, "bundle_format",
             lambda n: n.update(map_entry="x")),
        case("checkpoint not a string", c.newer_unchanged, "bundle_format",
             lambda n: n.update(checkpoint=1)),
        case("checkpoint edited", c.newer_unchanged, "checkpoint_signature",
             lambda n: n.update(checkpoint=n["checkpoint"].replace("\n", "\n\n", 1))),
        case("head edited", c.newer_unchanged, "checkpoint_head",
             lambda n: n["head"].update(sealed_at="2030-01-01T00:00:00.000000Z")),
        case("head extra field", c.newer_unchanged, "header_format",
             lambda n: n["head"].update(note="x")),
        case("map_entry edited", c.newer_unchanged, "map_root",
             lambda n: n["map_entry"].update(leaf_index=n["map_entry"]["leaf_index"] + 1)),
        case("other on membership", c.newer_unchanged, "map_proof",
             lambda n: n["map_proof"].update(other={"key": "ab" * 32, "value": "00" * 56})),
        # The order of G21 (§10.6 as amended): the entry's shape is read at (e), after the
        # checkpoint (b); a head's version after checkpoint_head (c).
        case("map_entry bad, checkpoint edited", c.newer_unchanged, "checkpoint_signature",
             lambda n: (n["map_entry"].update(version=0),
                        n.update(checkpoint=n["checkpoint"].replace("\n", "\n\n", 1)))),
        case("map_entry bad, acc_proof edited", c.newer_unchanged, "checkpoint_consistency",
             lambda n: (n["map_entry"].update(version=0), n["acc_proof"].pop())),
        case("map_entry bad", c.newer_unchanged, "bundle_format",
             lambda n: n["map_entry"].update(version=0)),
        case("head of version 1, not signed", c.newer_unchanged, "checkpoint_head",
             lambda n: (n["head"].update(version=1), n["head"].pop("map_root"),
                        n["head"].pop("map_size"))),
        Case("newer older than the bundle", older, c.key, "checkpoint_consistency"),
    ]  # fmt: skip


def _absence_cases(c: Chains) -> list[Case]:
    base = c.absent_at_n
    own = c.at_n

    def edit(name: str, change: Callable[[Bundle], Any], want: str | None) -> Case:
        b = copy.deepcopy(base)
        change(b)
        return Case(f"absence {name}", b, c.key, want)

    def claim_present(other: bool) -> Callable[[Bundle], Any]:
        def change(b: Bundle) -> None:
            b["item_id"] = ITEM
            proof = copy.deepcopy(own["map_proof"])
            if other:
                e = own["map_entry"]
                value = (
                    e["version"].to_bytes(8, "big")
                    + bytes.fromhex(e["leaf"])
                    + e["height"].to_bytes(8, "big")
                    + e["leaf_index"].to_bytes(8, "big")
                )
                proof["other"] = {"key": item_key(ITEM).hex(), "value": value.hex()}
            b["map_proof"] = proof

        return change

    def off_path(b: Bundle) -> None:
        key = bytearray(item_key(UNKNOWN))
        key[0] ^= 0x80  # differs at bit 0: off the path of any proof of depth >= 1
        b["map_proof"]["other"] = {"key": key.hex(), "value": "00" * 56}

    assert base["map_proof"]["siblings"], "the absence proof has depth 0: add items"
    return [
        Case("absence untouched", base, c.key, None, absent=True, completeness="complete"),
        edit("version 1", lambda b: b.update(version=1), "bundle_format"),
        edit("version 2.0", lambda b: b.update(version=2.0), "bundle_format"),
        edit("no map_proof", lambda b: b.pop("map_proof"), "bundle_format"),
        edit("empty item_id", lambda b: b.update(item_id=""), "bundle_format"),
        edit("head edited", lambda b: b["head"].update(leaf_count=99), "checkpoint_head"),
        edit("head as version 1", lambda b: b["head"].update(version=1), "header_format"),
        edit("naming the item's own entry", claim_present(True), "absence_refuted"),
        edit("of a present item", claim_present(False), "absence_refuted"),
        edit("other key off the path", off_path, "absence_proof"),
        edit("EMPTY written as hex", lambda b: b["map_proof"]["siblings"].append("00" * 32),
             "absence_proof"),
        edit("sibling edited", _flip_a_sibling, "absence_refuted"),
        Case("absence other key", base, _other_key(), "checkpoint_signature"),
    ]  # fmt: skip


def _freshness_cases(c: Chains) -> list[Case]:
    b, day = c.at_n, 86400
    v1 = copy.deepcopy(b)
    _as_v1(v1)
    tampered = copy.deepcopy(b)
    tampered["events"][2]["summary"].update(location="elsewhere")

    def at(name: str, bundle: Bundle, want: str | None, age: float, max_age: float) -> Case:
        options = {"maxAgeSeconds": max_age, "now": _later(bundle, age)}
        done = None if want else ("inclusion_only" if bundle["version"] == 1 else "complete")
        absent = bundle.get("format") == "assay-absence" and want is None
        return Case(f"fresh {name}", bundle, c.key, want, absent, done, options)

    # The newer checkpoint's head, sealed a moment after the bundle's, is the one H22 ages.
    with_newer = _with_newer(c, c.newer_unchanged)
    newer_sealed = _micros(c.newer_unchanged["head"]["sealed_at"]) / 1000
    assert newer_sealed > _later(b, 0.001), "the two heads were sealed in the same millisecond"
    just = {"maxAgeSeconds": 60, "now": newer_sealed + 60_000 - 0.5}
    return [
        Case("fresh by the newer head", with_newer, c.key, None, False, "complete", just),
        Case("stale by the bundle's own head", b, c.key, "checkpoint_stale", options=just),
        at("within the max age", b, None, day - 1, day),
        at("older than the max age", b, "checkpoint_stale", day + 1, day),
        at("version 1, stale", v1, "checkpoint_stale", 2 * day, day),
        at("version 1, fresh", v1, None, 10, day),
        at("tampered and stale", tampered, "summary_mismatch", 2 * day, day),
        at("absence, stale", c.absent_at_n, "checkpoint_stale", 2 * day, day),
        at("absence, fresh", c.absent_at_n, None, 60, day),
        at("newer decides", _with_newer(c, c.newer_changed), "newer_events", 2 * day, day),
    ]


def _check(page: Page, cases: list[Case]) -> None:
    rows, wrong = [], []
    for case, got in zip(cases, run_in_page(page, cases), strict=True):
        step = None if got["ok"] else got["step"]
        py = reference_step(case)
        row = f"{case.name:46} want {case.want!s:22} page {step!s:22} python {py!s:22}"
        rows.append(f"{row} {got['message'][:60]}")
        if step != case.want or py != case.want:
            wrong.append(row)
        elif step is None:
            said = (got["absent"], got["completeness"])
            if said != (case.absent, case.completeness):
                wrong.append(f"{row}: absent, completeness {said}")
            if case.size is not None and got["checkpoint_size"] != case.size:
                wrong.append(f"{row}: checkpoint_size {got['checkpoint_size']} != {case.size}")
    print("\n".join(rows))
    assert not wrong, "the page or the reference disagrees with the spec:\n" + "\n".join(wrong)


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())
    page.wait_for_load_state("load")
    return page


def test_version_2_bundles(offline_page: Page, chains: Chains) -> None:
    _check(offline_page, _v2_cases(chains))


def test_newer_checkpoints(offline_page: Page, chains: Chains) -> None:
    _check(offline_page, _newer_cases(chains))


def test_absence_bundles(offline_page: Page, chains: Chains) -> None:
    _check(offline_page, _absence_cases(chains))


def test_freshness(offline_page: Page, chains: Chains) -> None:
    _check(offline_page, _freshness_cases(chains))


def test_result_fields(offline_page: Page, chains: Chains) -> None:
    """bundle_version, checkpoint_time and checkpoint_size as §10.6's result table says."""
    plain = copy.deepcopy(chains.at_n)
    _as_v1(plain)
    cases = [
        Case("v2", chains.at_n, chains.key),
        Case("v1", plain, chains.key),
        Case("v2 newer", _with_newer(chains, chains.newer_unchanged), chains.key),
        Case("absence", chains.absent_at_n, chains.key),
        Case("v3", chains.at_n_v3, chains.key),
        Case("v3 newer", {**chains.at_n_v3, "newer": chains.newer_unchanged}, chains.key),
    ]
    got = run_in_page(offline_page, cases)
    head, newer = chains.at_n["head"], chains.newer_unchanged["head"]
    assert [(g["bundle_version"], g["checkpoint_time"], g["checkpoint_size"]) for g in got] == [
        (2, head["sealed_at"], head["height"] + 1),
        (1, head["sealed_at"], head["height"] + 1),
        (2, newer["sealed_at"], newer["height"] + 1),
        (2, chains.absent_at_n["head"]["sealed_at"], chains.absent_at_n["head"]["height"] + 1),
        (3, head["sealed_at"], head["height"] + 1),
        (3, newer["sealed_at"], newer["height"] + 1),
    ]
    assert [g["absent"] for g in got] == [False, False, False, True, False, False]
    assert [reference_step(c) for c in cases] == [None] * len(cases)
