"""The one error of mapping: an EPCIS event Assay cannot record, and where in it."""

from __future__ import annotations


class Refused(ValueError):
    """``where`` is a JSON Pointer relative to the event; ``message`` says why."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message
