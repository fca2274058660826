"""RFC 7807 problems with the exception types of GS1's EPCIS REST bindings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"
VALIDATION = "epcisException:ValidationException"
TOO_LARGE = "epcisException:CaptureLimitExceededException"
MEDIA_TYPE = "epcisException:UnsupportedMediaTypeException"
NOT_FOUND = "epcisException:NoSuchResourceException"
QUERY = "epcisException:QueryParameterException"
IMPLEMENTATION = "epcisException:ImplementationException"


@dataclass
class Problem(Exception):
    """A refused request: ``status``, GS1 exception ``type``, and per-event ``errors``."""

    status: int
    type: str
    title: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            out["instance"] = instance
        if self.errors:
            out["errors"] = self.errors
        return out
