"""The native reading of a signed item record's state (native/src/signedstate.rs, through
``anchoring.audit_read.native_pieces``) against its reference (``reference_pieces``):
wherever the native pass answers it answers exactly what the reference does, it answers
for every record of a real store, and whatever it declines the reference decides, so the
fast path accepts and the audit reports exactly what it did without it."""

from __future__ import annotations

import base64
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder, Notification
from hypothesis import example, given, settings
from hypothesis import strategies as st

import anchoring.audit_read as audit_read
from anchoring.audit_read import fast_signed_record, native_pieces, reference_pieces
from ledger.application import CustodyLedger
from ledger.config import store_env
from ledger.stored import ENVELOPE_MEMBER
from tests.anchoring.tamper import build_store
from tests.anchoring.test_audit_read import SIGNED, flips_audit_alike


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("nativeread") / "template", items=6)


@pytest.fixture(scope="module")
def ledger(template: Path) -> CustodyLedger:
    return CustodyLedger(store_env("", template / "ledger.sqlite"))


@pytest.fixture(scope="module")
def signed(ledger: CustodyLedger) -> list[Notification]:
    every = ledger.recorder.select_notifications(start=1, limit=10_000)
    return [n for n in every if n.topic in SIGNED]


def transcoder(ledger: CustodyLedger) -> JSONTranscoder:
    coder = ledger.mapper.transcoder
    assert isinstance(coder, JSONTranscoder)
    return coder


def without_native(mapper: Any, n: Notification) -> Any:
    """``fast_signed_record`` with the reference reading the pieces."""
    saved = audit_read.native_pieces
    audit_read.native_pieces = lambda transcoder, state: None
    try:
        return fast_signed_record(mapper, n)
    finally:
        audit_read.native_pieces = saved


def assert_same(ledger: CustodyLedger, n: Notification) -> bool:
    """Whether the native pass answered for ``n``; the pieces, when it does, and the fast
    path's answer, always, are the reference's."""
    coder = transcoder(ledger)
    native = native_pieces(coder, n.state)
    if native is not None:
        assert native == reference_pieces(coder, n.state)
    fast, slow = fast_signed_record(ledger.mapper, n), without_native(ledger.mapper, n)
    assert (fast is None) == (slow is None)
    if fast is not None and slow is not None:
        assert type(fast[0]) is type(slow[0]) and vars(fast[0]) == vars(slow[0])
        assert fast[1] == slow[1]
    return native is not None


def test_every_signed_record_of_a_real_store_is_read_natively(
    ledger: CustodyLedger, signed: list[Notification]
) -> None:
    assert len(signed) > 30
    assert all(assert_same(ledger, n) for n in signed)
    assert all(fast_signed_record(ledger.mapper, n) is not None for n in signed)


def base64_region(n: Notification) -> tuple[int, int]:
    start = n.state.rindex(ENVELOPE_MEMBER) + len(ENVELOPE_MEMBER)
    return start, len(n.state) - 3


def with_base64(n: Notification, text: bytes) -> Notification:
    start, end = base64_region(n)
    return replace(n, state=n.state[:start] + text + n.state[end:])


def test_base64_other_than_the_canonical_spelling_goes_to_the_reference(
    ledger: CustodyLedger, signed: list[Notification]
) -> None:
    n = signed[0]
    start, end = base64_region(n)
    text = n.state[start:end]
    raw = base64.b64decode(text)
    assert assert_same(ledger, with_base64(n, base64.b64encode(raw)))
    for odd in (
        text + b"==",  # padding b64decode tolerates
        text[:-4] + b"\n" + text[-4:],  # a character it discards
        text[:-1],  # too short
        base64.b64encode(raw + b"x")[:-2] + b"y=",  # unused bits set (...y= for ...w=)
        base64.b64encode(raw + b"xy")[:-1],  # padding missing
        b"=" + text[1:],
    ):
        assert not assert_same(ledger, with_base64(n, odd)), odd


def test_envelopes_the_plain_reader_declines_go_to_the_reference(
    ledger: CustodyLedger, signed: list[Notification]
) -> None:
    n = signed[-1]
    start, end = base64_region(n)
    raw = base64.b64decode(n.state[start:end])
    for odd in (raw[:-1], raw + b"\x00", raw[:-64] + b"\x80\x01" + raw[-63:], b"", raw[:10]):
        assert not assert_same(ledger, with_base64(n, base64.b64encode(odd))), odd


_EDIT = st.tuples(
    st.sampled_from(["set", "insert", "delete", "base64"]),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.sampled_from(list(b'"=+/Aaz09\\ \n\x00\xc3\xff{}:,_')),
)


@settings(max_examples=300, deadline=None)
@given(which=st.integers(min_value=0), edits=st.lists(_EDIT, min_size=1, max_size=3))
@example(which=0, edits=[("set", 0.99, ord("}"))])
@example(which=1, edits=[("base64", 0.5, ord("="))])
def test_changed_states_read_the_same_natively_and_by_the_reference(
    ledger: CustodyLedger, signed: list[Notification], which: int, edits: list[Any]
) -> None:
    n = signed[which % len(signed)]
    state = n.state
    for kind, where, byte in edits:
        found = state.rfind(ENVELOPE_MEMBER)
        if kind == "base64" and found >= 0:  # aimed at the envelope's base64 (most bytes)
            start = found + len(ENVELOPE_MEMBER)
            at = start + int(where * max(len(state) - 3 - start, 1))
        else:
            at = int(where * len(state))
        if kind == "insert":
            state = state[:at] + bytes([byte]) + state[at:]
        elif kind == "delete":
            state = state[:at] + state[at + 1 :]
        else:
            state = state[:at] + bytes([byte]) + state[at + 1 :]
    assert_same(ledger, replace(n, state=state))


def test_tampered_envelopes_audit_to_the_same_divergence_natively_and_by_the_reference(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bit flipped in a stored envelope's base64 (where the native pass reads): the audit
    with it names what the audit with the reference's pieces names."""

    def base64(state: bytes) -> tuple[int, int]:
        return state.rindex(ENVELOPE_MEMBER) + len(ENVELOPE_MEMBER), len(state) - 3

    without = (audit_read, "native_pieces", lambda transcoder, state: None)
    found = flips_audit_alike(
        template, tmp_path, monkeypatch, random.Random(1905), 12, base64, without
    )
    assert len(found - {None}) > 5
