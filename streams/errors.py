"""The one error the serializers raise, with a stable code for the dead-letter topic."""

from __future__ import annotations


class SerializationError(Exception):
    """Bytes that are not a message Assay can read. ``code`` is stable and machine-readable."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
