"""Assay's EPCIS extension namespace and the fields an integrator may send in it.

The namespace is ``https://assay.example/epcis#``, written with a prefix declared in the
document's ``@context`` (``{"assay": "https://assay.example/epcis#"}``; the prefix
``assay`` is understood even when the context does not declare it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ASSAY_NS = "https://assay.example/epcis#"
ASSAY_PREFIX = "assay"

#: Fields read from an ObjectEvent's ``ilmd`` (commissioning).
ILMD_FIELDS = frozenset({"brand", "model", "serial", "tagUID", "tagUIDs"})
#: Fields read from the event itself.
EVENT_FIELDS = frozenset({"verdict", "certificate", "buyerRef", "reason", "latitude", "longitude"})
#: Fields only the export writes; a capture refuses them (they are Assay's to say).
EXPORT_FIELDS = frozenset(
    {"blockHeight", "leafIndex", "leafHash", "itemVersion", "party", "device", "flags", "via"}
)


class Namespaces:
    """Prefix -> IRI from the ``@context`` objects of a document (and of one event)."""

    def __init__(self, context: Any, inner: Any = None) -> None:
        self.prefixes: dict[str, str] = {}
        for ctx in (context, inner):
            for entry in ctx if isinstance(ctx, list) else [ctx]:
                if isinstance(entry, Mapping):
                    self.prefixes.update(
                        {str(k): str(v) for k, v in entry.items() if isinstance(v, str)}
                    )

    def with_event(self, event: Mapping[str, Any]) -> Namespaces:
        inner = event.get("@context")
        if inner is None:
            return self
        out = Namespaces(None)
        out.prefixes = {**self.prefixes, **Namespaces(inner).prefixes}
        return out

    def assay_name(self, key: str) -> str | None:
        """The local name of ``key`` in Assay's namespace, or ``None`` if it is not Assay's."""
        if key.startswith(ASSAY_NS):
            return key[len(ASSAY_NS) :]
        prefix, sep, local = key.partition(":")
        if not sep:
            return None
        iri = self.prefixes.get(prefix)
        if iri == ASSAY_NS or (iri is None and prefix == ASSAY_PREFIX):
            return local
        return None

    def assay_fields(self, obj: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
        """Assay's fields of an object: local name -> (key as written, value)."""
        out: dict[str, tuple[str, Any]] = {}
        for key, value in obj.items():
            if ":" not in key:  # EPCIS's own fields (most of them): not an extension
                continue
            name = self.assay_name(key)
            if name is not None:
                out[name] = (key, value)
        return out
