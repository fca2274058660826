"""docs/custody-rules.md stays true: every rule and signal code, and the role table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from domain import errors
from domain.custody import ALLOWED_KINDS, Kind, Role
from domain.items import Signal

DOC = (Path(__file__).resolve().parents[2] / "docs" / "custody-rules.md").read_text()
RULES = sorted(
    cls.rule
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.DomainError)
    and cls is not errors.DomainError  # the base class
)  # fmt: skip


@pytest.mark.parametrize("code", RULES)
def test_every_rule_is_explained(code: str) -> None:
    assert f"`{code}`" in DOC


@pytest.mark.parametrize("code", [s.value for s in Signal])
def test_every_signal_is_explained(code: str) -> None:
    assert re.search(rf"^\| `{code}` \|", DOC, re.MULTILINE), code


def test_the_role_table_is_the_one_the_domain_enforces() -> None:
    header = "| Event kind | brand | appraiser | warehouse | store |"
    assert header in DOC
    roles = [Role(r.strip()) for r in header.strip("|").split("|")[1:]]
    table: dict[Kind, set[Role]] = {}
    for line in DOC.splitlines():
        match = re.match(r"^\| `(\w+)` \| (.+) \|$", line)
        if match and match.group(1) in set(Kind):
            cells = [c.strip() for c in match.group(2).split("|")]
            table[Kind(match.group(1))] = {
                r for r, c in zip(roles, cells, strict=True) if c == "yes"
            }
    assert table == {k: {r for r in Role if k in ALLOWED_KINDS[r]} for k in Kind}
