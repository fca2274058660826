"""Where the anchor's witnessing leaves its traces: the checkpoint file and a status file.

* :func:`write_checkpoint_file` (anchoring/checkpoint_file.py) replaces the checkpoint
  file atomically, never with a smaller checkpoint than the one it holds.
* :func:`write_status` keeps ``<data dir>/witnesses.json`` (format
  ``assay-witnessing-v1``, docs/witnesses.md) for `assay status` and ``GET /witnesses``,
  which run in other processes.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from anchoring.checkpoint_file import replace_text
from witness.submitter import WitnessingStatus

STATUS_FORMAT = "assay-witnessing-v1"

_status_lock = threading.Lock()


def status_json(status: WitnessingStatus) -> dict[str, Any]:
    verdict = status.verdict
    return {
        "format": STATUS_FORMAT,
        "checkpoint": {
            "size": status.published_size,
            "published_at": status.published_at,
            "cosignatures": status.published_cosignatures,
        },
        "quorum": None
        if verdict is None
        else {
            "met": verdict.quorum_met,
            "cosigned_by": verdict.cosigned_by,
            "message": verdict.message,
        },
        "rounds": status.rounds,
        "superseded": status.superseded,
        "last_error": status.last_error,
        "witnesses": {
            name: {
                "url": r.url,
                "cosigned_size": r.cosigned_size,
                "cosigned_at": r.cosigned_at,
                "cosignatures": r.cosignatures,
                "last_status": r.last_status,
                "last_http_status": r.last_http_status,
                "last_detail": r.last_detail,
                "failures": dict(sorted(r.failures.items())),
            }
            for name, r in sorted(status.witnesses.items())
        },
    }


def write_status(path: Path, status: WitnessingStatus) -> None:
    text = json.dumps(status_json(status), indent=2, sort_keys=False) + "\n"
    with _status_lock:
        replace_text(path, text)


def read_status(path: Path) -> dict[str, Any] | None:
    """The status file, or None if missing, unreadable or not this format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != STATUS_FORMAT:
        return None
    return data
