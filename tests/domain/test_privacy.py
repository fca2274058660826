"""Salted commitments to personal data (docs/privacy.md): the vectors, and the custody
event that carries commitments instead of clear values."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from domain.custody import CustodyEvent, Kind
from domain.items import Result
from domain.privacy import SALT_BYTES, Disclosure, digest_of, new_claim_code, typed_claim_code
from domain.story import describe
from tests.domain.factory import Bench

FOLDER = Path(__file__).parent / "vectors" / "privacy"
VECTORS = sorted(FOLDER.glob("*.json"))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_privacy_vector(path: Path) -> None:
    vector: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if vector["want_err"] is not None:
        with pytest.raises(ValueError):
            Disclosure.decode(vector["disclosure"])
        return
    salt = bytes.fromhex(vector["salt_hex"])
    assert digest_of(salt, vector["value"]) == vector["digest"]
    made = Disclosure(salt, vector["field"], vector["value"])
    assert made.encode() == vector["disclosure"]
    read = Disclosure.decode(vector["disclosure"])
    assert read == made and read.opens(vector["digest"])
    assert not read.opens(digest_of(salt, vector["value"] + " "))


def test_every_scenario_has_a_vector() -> None:
    assert {p.stem for p in VECTORS} >= {"buyer-ref-ascii", "owner-label-unicode", "short-salt"}


def test_each_disclosure_has_its_own_128_bit_salt() -> None:
    a, b = Disclosure.new("buyer_ref", "same"), Disclosure.new("buyer_ref", "same")
    assert len(a.salt) == SALT_BYTES == 16 and a.salt != b.salt and a.digest != b.digest
    with pytest.raises(ValueError):
        Disclosure.new("brand", "not personal")
    with pytest.raises(ValueError):
        digest_of(bytes(15), "short salt")


def sale(bench: Bench, **details: Any) -> CustodyEvent:
    return bench.event(Kind.RETAIL_SELLING, "ginza", **details)


def test_a_sale_with_a_committed_buyer_is_accepted_and_tells_no_name() -> None:
    bench = Bench().commissioned().authenticated().moved("ginza")
    disclosure = Disclosure.new("buyer_ref", "Ana Lúcia")
    event = sale(bench, commitments={"buyer_ref": disclosure.digest})
    assert bench.apply(event).result is Result.ACCEPTED
    assert bench.state.buyer_ref is None
    assert "Ana" not in json.dumps(event.to_primitive(), ensure_ascii=False)
    assert describe(event) == "ginza sold it to buyer (committed)"
    assert CustodyEvent.from_primitive(event.to_primitive()) == event


def test_a_sale_needs_a_buyer_in_clear_or_committed() -> None:
    bench = Bench().commissioned().authenticated().moved("ginza")
    assert bench.refuse_event(sale(bench)).rule == "missing_detail"


def test_a_value_is_never_both_committed_and_clear() -> None:
    bench = Bench()
    digest = Disclosure.new("buyer_ref", "b").digest
    with pytest.raises(ValueError, match="cannot also be given in clear"):
        sale(bench, buyer_ref="b", commitments={"buyer_ref": digest})
    with pytest.raises(ValueError, match="64 lowercase hex"):
        sale(bench, commitments={"buyer_ref": digest.upper()})
    with pytest.raises(ValueError, match="not a personal field"):
        sale(bench, commitments={"brand": digest})


def test_events_without_commitments_keep_their_digest() -> None:
    # Records stored before commitments existed must read (and fingerprint) the same.
    event = sale(Bench(), buyer_ref="buyer-1")
    assert "commitments" not in event.to_primitive()


def test_a_claim_code_is_128_bits_of_base32_in_groups_and_never_begins_with_a_dash() -> None:
    codes = {new_claim_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert PRINTED_CODE.fullmatch(code), code
        raw = base64.b32decode(code.replace("-", "") + "=" * 6)
        assert len(raw) == SALT_BYTES
        assert typed_claim_code(code) == code


PRINTED_CODE = re.compile(r"(?:[A-Z2-7]{4}-){6}[A-Z2-7]{2}")
#: Typed codes and the printed code each means; tests/server/test_page_owner_actions.py
#: runs the page's typedClaimCode over the same table.
TYPED_CODES = [
    ("mfrg-gzdf-mztw-q2lk-nnwg-23tp-oa", "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OA"),
    ("  MFRGGZDFMZTWQ2LKNNWG23TPOA\n", "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OA"),
    ("mfrg gzdf mztw q2lk nnwg 23tp oa", "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OA"),
    ("MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-0A", "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OA"),  # 0 for O
    ("1FRG-GZDF-MZTW-Q2LK-NNWG-23TP-8A", "IFRG-GZDF-MZTW-Q2LK-NNWG-23TP-BA"),  # 1, 8
    # An earlier version's code (base64url, 22 characters) is kept as typed, trimmed.
    (" -Xq3_ab9ZZ0kLmNoPq12rS ", "-Xq3_ab9ZZ0kLmNoPq12rS"),
    ("MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-9A", "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-9A"),  # 9: not base32
    ("MFRG-GZDF-MZTW-Q2LK-NNWG-23TP", "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP"),  # too short
    ("\uff2dFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OA", "\uff2dFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OA"),  # not ASCII
]


@pytest.mark.parametrize(("typed", "meant"), TYPED_CODES)
def test_a_typed_claim_code_is_written_back_as_printed(typed: str, meant: str) -> None:
    assert typed_claim_code(typed) == meant
