"""The gate's NUL check sees every text field of an event and its attributes; its joined
fast path answers as the member-by-member check."""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.custody import CustodyEvent, Kind
from streams.gate import _has_nul, _has_nul_each

SCAN = CustodyEvent("e", "i", Kind.RECEIVING, "p", "d", "l", datetime(2026, 1, 1, tzinfo=UTC))
TEXT_FIELDS = [f.name for f in fields(CustodyEvent) if f.type in ("str", "str | None")]


def test_an_event_without_nul_passes() -> None:
    assert not _has_nul(replace(SCAN, attributes={"k": "v"}, brand="B"))


@pytest.mark.parametrize("name", TEXT_FIELDS)
def test_nul_in_any_text_field_is_seen(name: str) -> None:
    assert len(TEXT_FIELDS) >= 10
    event = copy.copy(SCAN)
    object.__setattr__(event, name, "a\x00b")  # as a body would spell it, rules aside
    assert _has_nul(event)


@pytest.mark.parametrize("attributes", [{"k\x00": "v"}, {"k": "\x00"}])
def test_nul_in_an_attribute_is_seen(attributes: dict[str, str]) -> None:
    assert _has_nul(replace(SCAN, attributes=attributes))


class Label(str):
    """A str subclass: the member-by-member check has never looked into one."""


@pytest.mark.parametrize(
    ("value", "attributes", "seen"),
    [
        (5, {}, False),  # not text at all: each member is looked at, as before
        (5, {"k": "\x00"}, True),
        (Label("a\x00b"), {}, False),  # a subclass, not of type str: skipped, as before
        (Label("ab"), {"\x00": "v"}, True),
    ],
)
def test_a_text_field_holding_something_else_is_decided_member_by_member(
    value: object, attributes: dict[str, str], seen: bool
) -> None:
    event = copy.copy(replace(SCAN, attributes=attributes))
    object.__setattr__(event, "brand", value)
    assert _has_nul(event) is seen
    assert _has_nul_each(event) is seen


@settings(max_examples=300, deadline=None)
@given(
    texts=st.dictionaries(
        st.sampled_from(TEXT_FIELDS), st.text(alphabet=st.sampled_from("a\x00\x01é")), max_size=5
    ),
    attributes=st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3),
)
def test_the_joined_check_answers_as_the_member_by_member_one(
    texts: dict[str, str], attributes: dict[str, str]
) -> None:
    event = copy.copy(replace(SCAN, attributes=attributes))
    for name, text in texts.items():
        object.__setattr__(event, name, text)
    expected = any("\x00" in t for t in vars(event).values() if type(t) is str) or any(
        "\x00" in k + v for k, v in attributes.items()
    )
    assert _has_nul(event) is expected
    assert _has_nul_each(event) is expected
