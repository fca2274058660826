"""JSON transcodings for the domain's value types inside stored events."""

from __future__ import annotations

import base64
from typing import Any

from eventsourcing.persistence import Transcoding

from domain.custody import CustodyEvent
from domain.ownership import OwnerStatement


class BytesAsBase64(Transcoding):
    type = bytes
    name = "bytes_b64"

    def encode(self, obj: bytes) -> str:
        return base64.b64encode(obj).decode("ascii")

    def decode(self, data: str) -> bytes:
        return base64.b64decode(data)


class CustodyEventAsDict(Transcoding):
    type = CustodyEvent
    name = "custody_event"

    def encode(self, obj: CustodyEvent) -> dict[str, Any]:
        return obj.to_primitive()

    def decode(self, data: dict[str, Any]) -> CustodyEvent:
        return CustodyEvent.from_primitive(data)


class OwnerStatementAsDict(Transcoding):
    type = OwnerStatement
    name = "owner_statement"

    def encode(self, obj: OwnerStatement) -> dict[str, Any]:
        return obj.to_primitive()

    def decode(self, data: dict[str, Any]) -> OwnerStatement:
        return OwnerStatement.from_primitive(data)
