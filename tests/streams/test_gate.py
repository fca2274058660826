"""The gate's NUL check sees every text field of an event and its attributes."""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from datetime import UTC, datetime

import pytest

from domain.custody import CustodyEvent, Kind
from streams.gate import _has_nul

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
