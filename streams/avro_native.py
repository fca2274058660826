"""The native one-pass reader (native/src/avrobody.rs): what the registry reads with.

It reads a body as :func:`streams.avro_onepass.read` reads it, from the same plan (made
from the schema files by :func:`streams.avro_onepass.plan`) and with the same type codes
(:data:`streams.avro_onepass.KIND_CODES`): the record, or None where the Python reader
answers None, and then the careful path decides, with its own refusal. The Python reader
stays the reference; tests/streams/test_avro_native.py binds the two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from assay_headmap import BodyReader, MessageReader

from streams.avro_onepass import KIND_CODES, BodyPlan, Reader


def native_reader(body_plan: BodyPlan) -> Reader:
    """The native reader of ``body_plan``: ``reader(message, position)`` is the record in
    ``message[position:]`` or None, as :func:`streams.avro_onepass.read` answers."""
    fields, added = body_plan
    return BodyReader(list(fields), list(added), KIND_CODES, datetime, UTC)


def native_message_reader(
    magic: bytes, readers: Mapping[bytes, Reader]
) -> Callable[[bytes], dict[str, Any] | None]:
    """``read(message)``: the record of a single-object message (``magic`` ‖ fingerprint
    ‖ body) whose writer's fingerprint is one of ``readers`` (native readers), read by that
    reader; else None."""
    native = {}
    for fingerprint, reader in readers.items():
        if not isinstance(reader, BodyReader):
            raise TypeError("a native message reader is made of native body readers")
        native[fingerprint] = reader
    return MessageReader(magic, native)
