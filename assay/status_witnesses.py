"""`assay status`'s witness check: is the newest checkpoint cosigned by the policy's quorum?

It reads the checkpoint file (what readers get) and judges it with the configured policy
(``witness_policy``), and adds what the anchor recorded of each witness in
``witnesses.json`` (its last cosigned size, when, its last failure). Only the quorum
decides health: a single witness down is reported but healthy while the quorum holds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from assay.settings import Settings
from assay.status_kafka import Check
from witness.errors import PolicyError
from witness.policy import evaluate, load_policy, parse_policy
from witness.publishing import read_status


def check_witnesses(settings: Settings) -> Check | None:
    """None when no witness policy is configured."""
    if not settings.witness_policy:
        return None
    try:
        policy = load_policy(settings.witness_policy)
    except PolicyError as e:
        return Check("witnesses", False, f"witness policy unusable: {e}", {})
    try:
        note = settings.checkpoint_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Check("witnesses", None, "no checkpoint yet", {"quorum_met": None})
    now = time.time()
    verdict = evaluate(note, policy, now)
    lines = note.split("\n", 2)
    size = lines[1] if len(lines) > 2 else "?"
    recorded = read_status(settings.witnessing_status_path) or {}
    known: dict[str, Any] = recorded.get("witnesses", {})
    witnesses: dict[str, Any] = {}
    parts = []
    for name in policy.witnesses:
        record = known.get(name, {})
        at = record.get("cosigned_at")
        age = None if not isinstance(at, (int, float)) else max(0.0, now - at)
        witnesses[name] = {
            "cosigned_newest": name in verdict.cosigned_by,
            "cosigned_size": record.get("cosigned_size"),
            "cosigned_age_seconds": age,
            "last_status": record.get("last_status"),
            "last_detail": record.get("last_detail"),
        }
        part = f"{name} at {record.get('cosigned_size', '?')}"
        if age is not None:
            part += f" ({_ago(age)})"
        if record.get("last_status") not in (None, "", "cosigned"):
            part += f" last: {record['last_status']}"
        parts.append(part)
    summary = f"checkpoint {size}: {verdict.message}; " + ", ".join(parts)
    return Check("witnesses", verdict.quorum_met, summary, {
        "quorum_met": verdict.quorum_met, "failure": verdict.failure,
        "cosigned_by": verdict.cosigned_by, "witnesses": witnesses,
    })  # fmt: skip


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s ago"
    return f"{seconds / 60:.0f} min ago" if seconds < 7200 else f"{seconds / 3600:.1f} h ago"


def witness_report(settings: Settings) -> dict[str, Any]:
    """``GET /witnesses``: the newest checkpoint's quorum (with a policy) and each witness's
    last cosigned size and time as the anchor recorded them (no URLs: they may be internal)."""
    recorded = read_status(settings.witnessing_status_path) or {}
    witnesses = {
        name: {
            "cosigned_size": record.get("cosigned_size"),
            "cosigned_at": record.get("cosigned_at"),
            "last_status": record.get("last_status"),
        }
        for name, record in sorted(recorded.get("witnesses", {}).items())
    }
    check = check_witnesses(settings)
    quorum = None
    if check is not None:
        quorum = {
            "met": check.details.get("quorum_met"),
            "failure": check.details.get("failure"),
            "cosigned_by": check.details.get("cosigned_by", []),
            "summary": check.summary,
        }
    checkpoint = recorded.get("checkpoint", {})
    return {
        "checkpoint_size": checkpoint.get("size"),
        "quorum": quorum,
        "witnesses": witnesses,
        # The page uses it, trusted on first use, where the brand pinned no policy.
        "policy": _policy_text(settings),
    }


def _policy_text(settings: Settings) -> str | None:
    """The configured policy's text, if it reads and parses; else None (never a bad one)."""
    if not settings.witness_policy:
        return None
    try:
        text = Path(settings.witness_policy).read_text(encoding="utf-8")
        parse_policy(text)
    except (OSError, UnicodeDecodeError, PolicyError):
        return None
    return text
