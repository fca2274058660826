"""Dead letters: every message the ingest cannot accept, with the reason and the exact bytes.

A dead letter is a JSON object on ``custody.rejected`` (key = the original key), also
carried in headers for consumers that filter without parsing:

    {"code": "bad_signature", "reason": "…", "source": {"topic": …, "partition": …,
     "offset": …, "timestamp_ms": …}, "key_b64": …, "value_b64": …, "rejected_at": …}

Publishing happens before the batch's position is saved, so a crash in between can only
repeat a dead letter (same source coordinates), never lose one.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class DeadLetter:
    code: str
    reason: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    rejected_at: str = ""

    def to_json(self) -> bytes:
        payload = {
            "code": self.code,
            "reason": self.reason,
            "source": {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "timestamp_ms": self.timestamp_ms,
            },
            "key_b64": None if self.key is None else base64.b64encode(self.key).decode(),
            "value_b64": base64.b64encode(self.value).decode(),
            "rejected_at": self.rejected_at or datetime.now(UTC).isoformat(),
        }
        return json.dumps(payload, sort_keys=True).encode()

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("assay.code", self.code.encode()),
            ("assay.source", f"{self.topic}:{self.partition}:{self.offset}".encode()),
        ]

    @classmethod
    def from_json(cls, raw: bytes) -> DeadLetter:
        data: dict[str, Any] = json.loads(raw)
        source = data["source"]
        key = data.get("key_b64")
        return cls(
            code=data["code"],
            reason=data["reason"],
            topic=source["topic"],
            partition=int(source["partition"]),
            offset=int(source["offset"]),
            timestamp_ms=int(source.get("timestamp_ms", -1)),
            key=None if key is None else base64.b64decode(key),
            value=base64.b64decode(data["value_b64"]),
            rejected_at=data.get("rejected_at", ""),
        )
