"""``assay verify``: check a proof bundle (or an absence bundle) offline, optionally with a
witness policy and an OpenTimestamps proof of its checkpoint."""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anchoring.errors import KeyFileError, VerificationError
from assay.cli import CommandError
from witness.errors import NoteError, PolicyError, TimestampError

if TYPE_CHECKING:
    from anchoring.checkpoint import Verifier
    from witness.policy import PolicyVerdict
    from witness.timestamps import VerifiedTimestamp

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def register(sub: Any) -> None:
    verify = sub.add_parser("verify", help="verify a proof bundle offline")
    verify.add_argument("bundle", type=Path)
    verify.add_argument("--key", required=True, type=Path, help="pinned platform public key")
    verify.add_argument(
        "--device-keys",
        type=Path,
        help='JSON {"party/device": "hex public key"} to pin device keys',
    )
    verify.add_argument("--origin", help="also require the checkpoint to be for this log")
    verify.add_argument(
        "--max-age",
        type=float,
        metavar="SECONDS",
        help="refuse (checkpoint_stale) a checkpoint sealed longer ago than this",
    )
    verify.add_argument("--json", action="store_true")
    verify.add_argument(
        "--witness-policy",
        type=Path,
        metavar="FILE",
        help="also require the checkpoint's cosignatures to meet this witness policy",
    )
    verify.add_argument(
        "--ots",
        type=Path,
        metavar="FILE",
        help="also check this OpenTimestamps proof of the bundle's checkpoint",
    )
    verify.add_argument(
        "--block-header", metavar="HEX", help="the 80-byte Bitcoin block header --ots ends in"
    )
    verify.set_defaults(handler=verify_handler)


def verify_handler(args: argparse.Namespace) -> int:
    """Exit 0: verified; 1: not verified, with the failing step (a bundle, key or pinned
    device key file that cannot be read as its format says included); 2: a file is
    missing or unreadable; 3: a valid absence proof (the item is not in the ledger)."""
    from anchoring.verify import read_bundle, verify_bundle
    from anchoring.verify_owner import current_owner
    from witness.policy import evaluate, load_policy

    if (args.ots is None) != (args.block_header is None):
        raise CommandError("--ots and --block-header go together")
    try:
        bundle_bytes = args.bundle.read_bytes()
        key_bytes = args.key.read_bytes()
        pinned_bytes = args.device_keys.read_bytes() if args.device_keys else None
        ots_bytes = args.ots.read_bytes() if args.ots else None
        policy = load_policy(args.witness_policy) if args.witness_policy else None
    except OSError as e:
        raise CommandError(f"cannot read input: {e}") from None
    except PolicyError as e:
        raise CommandError(f"witness policy {args.witness_policy}: {e}") from None
    stamped: VerifiedTimestamp | None = None
    witnessed: PolicyVerdict | None = None
    try:
        key = _platform_key(key_bytes)
        pinned = _device_keys(pinned_bytes) if pinned_bytes is not None else None
        bundle = read_bundle(bundle_bytes)
        result = verify_bundle(bundle, key, pinned, origin=args.origin, max_age=args.max_age)
        if policy is not None:
            # verify_bundle opened this checkpoint with key: evaluate need not check it again.
            witnessed = evaluate(bundle["checkpoint"], policy, time.time(), verified_log=key)
            witnessed.check()
        if ots_bytes is not None:
            stamped = _checkpoint_timestamp(ots_bytes, bundle["checkpoint"], args.block_header)
    except VerificationError as e:
        if args.json:
            event = getattr(e, "version", None)
            print(json.dumps({"verified": False, "step": e.step, "event": event, "error": str(e)}))
        else:
            print(f"NOT VERIFIED: {e.step}: {e}")
        return 1
    owned = any(s.get("owner_statement") is True for s in result.summaries)
    owner = current_owner(result.summaries) if owned else None
    if args.json:
        print(
            json.dumps(
                {
                    "verified": True,
                    "item_id": result.item_id,
                    "events": result.events,
                    "pending": result.pending,
                    "checkpoint_size": result.checkpoint_size,
                    "checkpoint_time": result.checkpoint_time,
                    "bundle_version": result.bundle_version,
                    "completeness": result.completeness,
                    "absent": result.absent,
                    "declared_in_error": result.declared_in_error,
                    **({"parties": result.parties} if result.parties is not None else {}),
                    **({"owner": _owner_json(owner)} if owner is not None else {}),
                    **({"witnesses": _witness_json(witnessed)} if witnessed else {}),
                    **({"timestamp": asdict(stamped)} if stamped else {}),
                }
            )
        )
    elif result.absent:
        print(
            f"NOT IN THE LEDGER: {result.item_id} is not in the ledger as of checkpoint "
            f"{result.checkpoint_size} ({result.checkpoint_time})"
        )
    else:
        if result.completeness == "complete":
            how = f"history complete as of {result.checkpoint_time}"
        else:
            how = "inclusion only (this format does not prove that no event is missing)"
        print(
            f"VERIFIED: {result.item_id}: {result.events} event(s) proven into checkpoint "
            f"of {result.checkpoint_size} block(s); {result.pending} pending; {how}"
        )
        for line in _declared_lines(result.declared_in_error):
            print(line)
        for party_id, party in sorted((result.parties or {}).items()):
            print(f"PROVEN PARTY: {party_id}: {party['name']} ({party['role']})")
        if owner is not None:
            print(_owner_line(owner))
    if not args.json:
        _print_checkpoint_evidence(witnessed, stamped)
    return 3 if result.absent else 0


def _owner_json(owner: dict[str, Any]) -> dict[str, Any]:
    # The fingerprint and the key; an owner is never named (docs/privacy.md).
    return {k: owner[k] for k in ("owner", "owner_key", "since", "missing", "claim_open")}


def _owner_line(owner: dict[str, Any]) -> str:
    """The ownership the verified history ends with, by key fingerprint."""
    if owner["owner"] is not None:
        line = f"OWNER: key {owner['owner']} since {owner['since']}"
    elif owner["claim_open"]:
        line = "OWNER: none yet (a claim code is open)"
    else:
        line = "OWNER: none (not owned since the last change of hands)"
    if owner["missing"]:
        line += f"; reported {owner['missing']} by the owner"
    return line


def _print_checkpoint_evidence(
    witnessed: PolicyVerdict | None, stamped: VerifiedTimestamp | None
) -> None:
    if witnessed is not None:
        print(
            f"WITNESSED: cosigned by {', '.join(witnessed.cosigned_by)} "
            f"({len(witnessed.cosigned)} of {witnessed.witness_count} witnesses of the policy)"
        )
        for refused in witnessed.refused:
            print(f"  not counted: {refused.witness}: {refused.reason}: {refused.detail}")
    if stamped is not None:
        when = datetime.fromtimestamp(stamped.block_time, UTC).isoformat()
        print(
            f"TIMESTAMPED: the checkpoint existed before Bitcoin block {stamped.height} "
            f"({stamped.block_hash}, {when})"
        )


def _witness_json(verdict: PolicyVerdict) -> dict[str, Any]:
    return {
        "quorum_met": verdict.quorum_met,
        "total": verdict.witness_count,
        "cosigned": [{"name": c.witness, "time": c.timestamp} for c in verdict.cosigned],
        "refused": [asdict(r) for r in verdict.refused],
    }


def _checkpoint_timestamp(ots: bytes, checkpoint: object, header_hex: str) -> VerifiedTimestamp:
    """The body of the bundle's checkpoint note (what the anchor stamps) against the proof."""
    from witness import timestamps
    from witness.note import parse_note

    try:
        body = parse_note(checkpoint).text
    except NoteError as e:  # verify_bundle has refused this already
        raise TimestampError("ots_digest", f"the bundle's checkpoint: {e}") from None
    try:
        header = bytes.fromhex(header_hex.strip())
    except ValueError:
        raise TimestampError("ots_format", "the block header is not hex") from None
    return timestamps.verify(ots, body.encode("utf-8"), header)


def _declared_lines(declared: list[dict[str, Any]]) -> list[str]:
    """One line per proven event declared in error, as the signed declaration says."""
    out = []
    for d in declared:
        why = f" ({d['reason']})" if d["reason"] else ""
        fixed = d["corrective_event_ids"]
        corrected = f"; corrected by {', '.join(fixed)}" if fixed else ""
        out.append(
            f"  v{d['version']} {d['kind']} {d['event_id']}: declared in error by {d['by']} at "
            f"{d['at']}{why} in v{d['declaration_version']}{corrected}"
        )
    return out


def _platform_key(raw: bytes) -> Verifier:
    from anchoring.checkpoint import Verifier

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError("key_file", "the platform key file is not UTF-8 text") from None
    return Verifier.from_text(text.strip())


def _device_keys(raw: bytes) -> dict[str, bytes]:
    """``{"party/device": "<64 hex>"}``, as strict JSON; ``key_file`` if it is not."""
    from anchoring import strictjson

    try:
        data = strictjson.loads(raw)
    except strictjson.JsonInputError as e:
        raise KeyFileError("key_file", f"pinned device keys: {e}") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, str) and _HEX64.fullmatch(v) for v in data.values()
    ):
        raise KeyFileError(
            "key_file", 'pinned device keys: expected {"party/device": "<64 hex public key>"}'
        )
    return {k: bytes.fromhex(v) for k, v in data.items()}
