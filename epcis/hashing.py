"""GS1's hash-based event ids (CBV 2.0 event hash) for events sent without an ``eventID``.

``epcis-event-hash-generator`` computes them; it expands the document's JSON-LD first, so
the GS1 EPCIS context must be resolved without the network: the package ships it, and
every URL GS1 publishes it under is mapped to that copy. Any other remote context makes
the id impossible to compute here, and the event must then carry its own ``eventID``.
"""

from __future__ import annotations

import copy
import importlib
import sys
import threading
from types import ModuleType
from typing import Any

from pyld import jsonld


def _generator(name: str) -> ModuleType:
    # The package puts its own site-packages folder first on sys.path when imported
    # (epcis_event_hash_generator/context.py), which would shadow this project's modules.
    saved = list(sys.path)
    try:
        return importlib.import_module(f"epcis_event_hash_generator.{name}")
    finally:
        sys.path[:] = saved


file_document_loader = _generator("file_document_loader")
hash_generator = _generator("hash_generator")
json_to_py = _generator("json_to_py")

#: The GS1 EPCIS 2.0 context under each published URL -> the URL the package resolves.
_SHIPPED = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
GS1_CONTEXTS = {
    _SHIPPED: _SHIPPED,
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld": _SHIPPED,
    "https://gs1.github.io/EPCIS/epcis-context.jsonld": "https://gs1.github.io/EPCIS/epcis-context.jsonld",
}  # fmt: skip


class EventHashError(ValueError):
    """The event's hash id cannot be computed; the message says why."""


_packaged = file_document_loader.file_document_loader()
#: The generator keeps module-level state (namespaces, the join string): one at a time.
_lock = threading.Lock()


def _offline_loader(url: str, options: dict[str, Any] | None = None) -> Any:
    shipped = GS1_CONTEXTS.get(url)
    if shipped is None:
        raise jsonld.JsonLdError(
            f"remote context {url} is not available offline",
            "jsonld.LoadDocumentError",
            code="loading document failed",
        )
    return _packaged(shipped, options or {})


def event_hash_ids(context: Any, events: list[dict[str, Any]]) -> list[str]:
    """The CBV 2.0 hash id (``ni:///sha-256;…?ver=CBV2.0``) of each event, in order."""
    if not events:
        return []
    document = {
        "@context": copy.deepcopy(context),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2000-01-01T00:00:00Z",
        "epcisBody": {"eventList": copy.deepcopy(events)},
    }
    with _lock:
        jsonld.set_document_loader(_offline_loader)
        try:
            parsed = json_to_py.event_list_from_epcis_document_json(document)
            ids: list[str] = hash_generator.epcis_hashes_from_events(parsed)
        except jsonld.JsonLdError as e:
            raise EventHashError(f"cannot expand the document's JSON-LD offline: {e}") from None
    if len(ids) != len(events):  # the generator logs and skips an event it cannot read
        raise EventHashError("the CBV event hash could not be computed for every event")
    return ids
