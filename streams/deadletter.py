"""Dead letters: every message the ingest cannot accept, with the reason and the exact bytes.

A dead letter is a JSON object on ``custody.rejected`` (key = the original key), also
carried in headers for consumers that filter without parsing:

    {"code": "bad_signature", "reason": "…", "source": {"topic": …, "partition": …,
     "offset": …, "timestamp_ms": …}, "key_b64": …, "value_b64": …, "rejected_at": …}

Publishing happens before the batch's position is saved, so a crash in between can only
repeat a dead letter (same source coordinates), never lose one.

A dead letter must itself fit in one Kafka request, or the hostile message that caused it
would stop the ingest on every restart. Assay creates ``custody.rejected`` with
``max.message.bytes`` = :data:`MAX_LETTER_BYTES` and the ingest's dead-letter producer may
send that much, so a letter carries the original value verbatim up to
:data:`MAX_KEPT_VALUE` bytes and the key up to :data:`MAX_KEPT_KEY` — more than a broker
accepts into ``custody.events`` by default (``message.max.bytes`` ≈ 1 MiB), so every
message that could arrive is kept whole. Beyond that it carries the first bytes plus
``value_length`` and ``value_sha256`` (``key_length``/``key_sha256``) of the whole, and the
source coordinates still name the original. The reason is cut to :data:`MAX_REASON_CHARS`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Largest dead letter: the rejected topic's ``max.message.bytes`` and the dead-letter
#: producer's ``max_request_size``.
MAX_LETTER_BYTES = 8 * 1024 * 1024
#: Original bytes a dead letter carries verbatim: with base64 (4/3) and the rest of the
#: JSON, a letter stays under MAX_LETTER_BYTES (4 MiB + 256 KiB → about 5.7 MiB).
MAX_KEPT_VALUE = 4 * 1024 * 1024
MAX_KEPT_KEY = 256 * 1024
MAX_REASON_CHARS = 2000


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
    #: Set when ``value`` (``key``) is only the first bytes of a longer original: the
    #: original's length and SHA-256 (hex).
    value_length: int | None = None
    value_sha256: str | None = None
    key_length: int | None = None
    key_sha256: str | None = None

    @property
    def truncated(self) -> bool:
        return self.value_length is not None or self.key_length is not None

    def kept(self) -> DeadLetter:
        """This letter as it travels: value and key cut to what a dead letter carries."""
        value, value_length, value_sha256 = self.value, self.value_length, self.value_sha256
        if value_length is None and len(value) > MAX_KEPT_VALUE:
            value_length, value_sha256 = len(value), hashlib.sha256(value).hexdigest()
            value = value[:MAX_KEPT_VALUE]
        key, key_length, key_sha256 = self.key, self.key_length, self.key_sha256
        if key is not None and key_length is None and len(key) > MAX_KEPT_KEY:
            key_length, key_sha256 = len(key), hashlib.sha256(key).hexdigest()
            key = key[:MAX_KEPT_KEY]
        reason = self.reason
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 1] + "…"
        return DeadLetter(
            code=self.code,
            reason=reason,
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            timestamp_ms=self.timestamp_ms,
            key=key,
            value=value,
            rejected_at=self.rejected_at,
            value_length=value_length,
            value_sha256=value_sha256,
            key_length=key_length,
            key_sha256=key_sha256,
        )

    def to_json(self) -> bytes:
        letter = self.kept()
        payload: dict[str, Any] = {
            "code": letter.code,
            "reason": letter.reason,
            "source": {
                "topic": letter.topic,
                "partition": letter.partition,
                "offset": letter.offset,
                "timestamp_ms": letter.timestamp_ms,
            },
            "key_b64": None if letter.key is None else base64.b64encode(letter.key).decode(),
            "value_b64": base64.b64encode(letter.value).decode(),
            "rejected_at": letter.rejected_at or datetime.now(UTC).isoformat(),
        }
        for name in ("value_length", "value_sha256", "key_length", "key_sha256"):
            if getattr(letter, name) is not None:
                payload[name] = getattr(letter, name)
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
            value_length=data.get("value_length"),
            value_sha256=data.get("value_sha256"),
            key_length=data.get("key_length"),
            key_sha256=data.get("key_sha256"),
        )
