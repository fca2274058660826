"""The record codec's values (ledger/records.py): ``ItemRecord`` and ``LeafSource`` set
their fields in one step; each is the frozen value the generated ``__init__`` would make."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ledger.records import ITEM_RECORDS, ItemRecord, LeafSource


def _generated(cls: type) -> Any:
    """A twin of ``cls`` with dataclass's own ``__init__`` (same fields and defaults)."""
    spec: list[Any] = [
        (f.name, Any)
        if f.default is dataclasses.MISSING
        else (f.name, Any, dataclasses.field(default=f.default))
        for f in dataclasses.fields(cls)
    ]
    return dataclasses.make_dataclass(cls.__name__, spec, frozen=True)


@pytest.mark.parametrize(
    ("cls", "args", "kwargs"),
    [
        (LeafSource, ("urn:item:1", 3, "E", b"env"), {}),
        (LeafSource, (), {"payload": b"p", "kind": "P", "version": 1, "item_id": "i"}),
        (ItemRecord, ("urn:item:1", 2, ITEM_RECORDS[0], None, b"env", None, None), {}),
        (ItemRecord, ("i", 1, ITEM_RECORDS[3], None, None, "s", "d"), {"statement": None}),
        (
            ItemRecord,
            (),
            {
                "detail": "d",
                "signal": "s",
                "envelope": None,
                "report": None,
                "type": ITEM_RECORDS[2],
                "version": 9,
                "item_id": "x",
            },
        ),
    ],
)
def test_the_value_is_what_the_generated_init_makes(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    made, twin = cls(*args, **kwargs), _generated(cls)(*args, **kwargs)
    assert list(vars(made).items()) == list(vars(twin).items())
    assert repr(made) == repr(twin)
    assert made == cls(*args, **kwargs) and hash(made) == hash(dataclasses.replace(made))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.version = 5
    with pytest.raises(TypeError):
        cls(*args[:-1]) if args else cls(**dict(list(kwargs.items())[1:]))
