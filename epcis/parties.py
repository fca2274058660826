"""Which Assay party an EPCIS party or location identifier stands for (the gateway's table).

EPCIS names the parties of a move in ``sourceList``/``destinationList`` by GS1 identifiers
(a PGLN, an SGLN, a Digital Link); Assay's custody rules need the consignee's party id.
The gateway's ``--parties`` file (TOML) maps one to the other::

    [parties]
    "urn:epc:id:pgln:0614141.00000" = "maison-aurel"
    "urn:epc:id:sgln:0614141.00001.0" = "hk-dc-1"

An identifier ``urn:assay:party:<id>`` needs no entry: it names party ``<id>`` itself
(the export writes parties that way).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

ASSAY_PARTY_URN = "urn:assay:party:"


class PartiesFileError(ValueError):
    """The parties file cannot be used; the message says why."""


@dataclass(frozen=True)
class PartyTable:
    entries: Mapping[str, str] = field(default_factory=dict)

    def party_of(self, identifier: str) -> str | None:
        if identifier.startswith(ASSAY_PARTY_URN) and len(identifier) > len(ASSAY_PARTY_URN):
            return unquote(identifier[len(ASSAY_PARTY_URN) :])
        return self.entries.get(identifier)

    @classmethod
    def load(cls, path: Path) -> PartyTable:
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise PartiesFileError(f"cannot read parties file {path}: {e}") from None
        unknown = set(data) - {"parties"}
        if unknown:
            raise PartiesFileError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}")
        table = data.get("parties", {})
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in table.items()
        ):
            raise PartiesFileError(
                f'{path}: [parties] maps identifiers to party ids ("id" = "party")'
            )
        return cls(dict(table))
