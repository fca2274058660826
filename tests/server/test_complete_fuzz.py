"""Seeded fuzzing of the parts format version 2 adds (docs/proof-bundle.md §10): map entries,
map proofs, `newer` objects and absence bundles changed at random, one to three changes
each. The page's verifier (written from the spec) and anchoring/verify.py must fail at the
same step, or both verify, on every one.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from anchoring.headmap import item_key
from tests.server.complete import Case, Chains, build_chains, reference_step, run_in_page
from tests.server.conftest import STATIC
from tests.server.stores import ITEM

if TYPE_CHECKING:
    from playwright.sync_api import Page

Bundle = dict[str, Any]
UNKNOWN = "urn:epc:id:sgtin:0614141.107346.9999"
SEED = 20261202


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Chains:
    return build_chains(tmp_path_factory.mktemp("fuzz") / "assay-data", UNKNOWN)


def _hex(rng: random.Random, n: int = 32) -> str:
    return rng.randbytes(n).hex()


def _near_key(rng: random.Random, item: str, depth: int) -> str:
    """A key sharing the item's first ``depth`` bits, or exactly the item's key."""
    key = bytearray(item_key(item))
    if depth < 256:
        at = rng.randrange(depth, 256)
        key[at // 8] ^= 0x80 >> (at % 8)
    return key.hex()


def _proof_change(rng: random.Random, proof: Any, item: str) -> None:
    siblings = proof["siblings"]
    op = rng.randrange(9)
    if op == 0 and siblings:
        siblings[rng.randrange(len(siblings))] = None
    elif op == 1 and siblings:
        siblings[rng.randrange(len(siblings))] = "00" * 32
    elif op == 2 and siblings:
        at = rng.randrange(len(siblings))
        siblings[at] = _hex(rng) if rng.random() < 0.5 else (siblings[at] or "ab" * 32).upper()
    elif op == 3:
        siblings.insert(rng.randrange(len(siblings) + 1), rng.choice([None, _hex(rng)]))
    elif op == 4 and siblings:
        siblings.pop(rng.randrange(len(siblings)))
    elif op == 5:
        depth = rng.randrange(len(siblings) + 1)
        proof["other"] = {"key": _near_key(rng, item, depth), "value": _hex(rng, 56)}
    elif op == 6:
        proof["other"] = rng.choice([None, {}, {"key": _hex(rng)}, [], "x", {"key": 1, "value": 2}])
    elif op == 7:
        proof[rng.choice(["siblings", "other"])] = rng.choice([None, 0, "x", {}, []])
    else:
        siblings.reverse()


def _entry_change(rng: random.Random, entry: Any) -> None:
    name = rng.choice(["version", "leaf", "height", "leaf_index"])
    if name == "leaf":
        entry[name] = rng.choice([_hex(rng), entry[name].upper(), None, 7])
    else:
        entry[name] = rng.choice([entry[name] + 1, entry[name] - 1, 0, -1, float(entry[name]),
                                  True, str(entry[name]), 2**53])  # fmt: skip


def _newer_change(rng: random.Random, newer: Any) -> None:
    op = rng.randrange(4)
    if op == 0 and newer["acc_proof"]:
        at = rng.randrange(len(newer["acc_proof"]))
        newer["acc_proof"][at] = _hex(rng)
    elif op == 1:
        rng.choice([newer["acc_proof"].append, newer["acc_proof"].insert])(
            *([_hex(rng)] if rng.random() < 0.5 else [0, _hex(rng)])
        )
    elif op == 2:
        newer.pop(rng.choice(["checkpoint", "head", "acc_proof", "map_entry", "map_proof"]))
    else:
        newer["head"][rng.choice(["sealed_at", "map_size", "map_root"])] = rng.choice(
            ["2030-01-01T00:00:00.000000Z", 0, _hex(rng)]
        )


def _mutants(c: Chains) -> list[Case]:
    rng = random.Random(SEED)
    kinds: list[tuple[str, Bundle, Callable[[Bundle], None]]] = [
        ("entry", c.at_n, lambda b: _entry_change(rng, b["map_entry"])),
        ("proof", c.at_n, lambda b: _proof_change(rng, b["map_proof"], ITEM)),
        ("absence", c.absent_at_n, lambda b: _proof_change(rng, b["map_proof"], UNKNOWN)),
        ("newer", dict(c.at_n, newer=c.newer_unchanged),
         lambda b: _newer_change(rng, b["newer"])),
        ("newer proof", dict(c.at_n, newer=c.newer_unchanged),
         lambda b: _proof_change(rng, b["newer"]["map_proof"], ITEM)),
        ("newer entry", dict(c.at_n, newer=c.newer_unchanged),
         lambda b: _entry_change(rng, b["newer"]["map_entry"])),
        # A newer checkpoint after the item's next event, changed or not.
        ("newer changed", dict(c.at_n, newer=c.newer_changed),
         lambda b: None if rng.random() < 0.5 else _newer_change(rng, b["newer"])),
    ]  # fmt: skip
    cases = []
    for n in range(280):
        name, base, change = kinds[n % len(kinds)]
        b = copy.deepcopy(base)
        for _ in range(rng.choice((1, 1, 2, 3))):
            # An earlier change may have removed what this one edits: keep what there is.
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                change(b)
        cases.append(Case(f"{name} #{n}", b, c.key))
    return cases


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())
    page.wait_for_load_state("load")
    return page


def test_fuzzed_version_2_parts_fail_alike(offline_page: Page, chains: Chains) -> None:
    cases = _mutants(chains)
    rows, differ, steps = [], [], set()
    for case, got in zip(cases, run_in_page(offline_page, cases), strict=True):
        page = None if got["ok"] else got["step"]
        py = reference_step(case)
        steps.add(py)
        rows.append(f"{case.name:18} python {py!s:24} page {page!s:24} {got['message'][:60]}")
        if page != py:
            differ.append(rows[-1])
    print("\n".join(rows))
    assert not differ, "the page and the reference disagree:\n" + "\n".join(differ)
    # The fuzz reaches the checks it is about, not only the JSON shape.
    assert {"bundle_format", "map_proof", "map_root", "absence_proof", "absence_refuted",
            "checkpoint_consistency", "newer_events"} <= steps, steps  # fmt: skip
