"""``assay keys init``, ``assay anchor``, ``assay prove``, ``assay verify``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anchoring import strictjson
from anchoring.checkpoint import Verifier
from anchoring.errors import KeyFileError, VerificationError
from anchoring.prove import ProveError, Prover, UnknownItem, write_bundle
from anchoring.sealer import Anchor
from anchoring.verify import read_bundle, verify_bundle
from assay import runtime
from assay.cli import CommandError
from assay.commands import add_metrics_flag, settings_from
from assay.service import Service

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="the platform's checkpoint signing key")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    init = ksub.add_parser("init", help="create the platform key (0600) and print its public form")
    init.set_defaults(handler=keys_init)
    show = ksub.add_parser("show", help="print the platform's public (verifier) key")
    show.set_defaults(handler=keys_show)

    anchor = sub.add_parser("anchor", help="seal ledger events into blocks and sign checkpoints")
    anchor.add_argument("--until-idle", type=float, metavar="SECONDS")
    anchor.add_argument("--once", action="store_true", help="seal what is recorded now and exit")
    add_metrics_flag(anchor)
    anchor.set_defaults(handler=anchor_handler)

    prove = sub.add_parser("prove", help="write the proof bundle of an item")
    prove.add_argument("item_id")
    prove.add_argument("-o", "--output", type=Path, help="bundle file (default: stdout)")
    prove.add_argument(
        "--format",
        type=int,
        choices=(1, 2),
        help="bundle format version (default: 2, complete history; 1: inclusion only, for "
        "consumers that read only version 1)",
    )
    prove.set_defaults(handler=prove_handler)

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
    verify.set_defaults(handler=verify_handler)

    audit = sub.add_parser("audit", help="recompute every leaf, root, link and signature")
    audit.add_argument(
        "--since",
        type=Path,
        metavar="CHECKPOINT_FILE",
        help="also prove this earlier checkpoint is an ancestor of today's head",
    )
    audit.set_defaults(handler=audit_handler)


def keys_init(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    signer, created = runtime.init_platform_key(settings)
    where = runtime.platform_verifier_path(settings)
    state = "created" if created else "exists"
    print(
        f"# platform key {state}: {settings.platform_key_path} (public: {where})", file=sys.stderr
    )
    print(signer.verifier_text())
    return 0


def keys_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    path = runtime.platform_verifier_path(settings)
    if not path.exists():
        raise CommandError(f"no platform key yet: run `assay keys init` ({path} missing)")
    print(path.read_text().strip())
    return 0


def anchor_handler(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    ledger, chain = runtime.open_ledger(settings), runtime.open_chain(settings)
    if args.once:
        anchor = runtime.make_anchor(settings, ledger, chain)
        _report(anchor.catch_up(), anchor, print)
        return 0
    with Service("anchor", settings, args.metrics_port) as service:
        # Checkpoints leave through an outbox: sealing never waits for the broker.
        outbox, sender = runtime.checkpoint_outbox(settings, runtime.kafka_connection(settings))
        service.metrics.watch_outbox("checkpoints", outbox, sender)
        try:
            anchor = runtime.make_anchor(settings, ledger, chain, checkpoint_outbox=outbox)
            service.metrics.watch_anchor(anchor)
            sealed = anchor.run(until_idle=args.until_idle, stop=service.stop)
            if not service.stopped_by_signal:
                sender.wait_sent(timeout=settings.stop_timeout)
        finally:
            waiting = sender.stop(service.stopper.remaining())
            outbox.close()
        _report(sealed, anchor, service.summary, waiting)
    return 0


def _report(sealed: int, anchor: Anchor, say: Callable[[str], None], waiting: int = 0) -> None:
    head = anchor.head
    where = f"head at height {head.height}" if head else "no blocks yet"
    line = f"sealed {sealed} block(s); {where}"
    if anchor.conflicts:
        line += f"; {anchor.conflicts} seal(s) lost to another anchor on the same chain: reloaded"
    if waiting:
        line += f"; {waiting} checkpoint(s) wait in the outbox for the broker"
    say(line)


def prove_handler(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not settings.checkpoint_path.exists():
        raise CommandError("nothing anchored yet: run `assay anchor --once` first")
    try:
        prover = Prover(
            runtime.open_ledger(settings),
            runtime.open_chain(settings),
            settings.checkpoint_path.read_text(),
        )
        try:
            bundle = prover.prove(args.item_id, args.format)
        except UnknownItem:
            if args.format == 1:
                raise
            bundle = prover.prove_absence(args.item_id)
    except ProveError as e:
        raise CommandError(str(e)) from None
    text = write_bundle(bundle)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        if "events" in bundle:
            what = (
                f"{len(bundle['events'])} anchored event(s), {len(bundle['pending'])} pending "
                f"(format version {bundle['version']})"
            )
        else:
            what = f"absence proof: {args.item_id} is not in the ledger"
        print(f"wrote {args.output}: {what}", file=sys.stderr)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))  # the bundle is UTF-8 whatever the locale
    return 0


def verify_handler(args: argparse.Namespace) -> int:
    """Exit 0: verified; 1: not verified, with the failing step (a bundle, key or pinned
    device key file that cannot be read as its format says included); 2: a file is
    missing or unreadable; 3: a valid absence proof (the item is not in the ledger)."""
    try:
        bundle_bytes = args.bundle.read_bytes()
        key_bytes = args.key.read_bytes()
        pinned_bytes = args.device_keys.read_bytes() if args.device_keys else None
    except OSError as e:
        raise CommandError(f"cannot read input: {e}") from None
    try:
        key = _platform_key(key_bytes)
        pinned = _device_keys(pinned_bytes) if pinned_bytes is not None else None
        result = verify_bundle(
            read_bundle(bundle_bytes), key, pinned, origin=args.origin, max_age=args.max_age
        )
    except VerificationError as e:
        if args.json:
            event = getattr(e, "version", None)
            print(json.dumps({"verified": False, "step": e.step, "event": event, "error": str(e)}))
        else:
            print(f"NOT VERIFIED: {e.step}: {e}")
        return 1
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
    return 3 if result.absent else 0


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
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError("key_file", "the platform key file is not UTF-8 text") from None
    return Verifier.from_text(text.strip())


def _device_keys(raw: bytes) -> dict[str, bytes]:
    """``{"party/device": "<64 hex>"}``, as strict JSON; ``key_file`` if it is not."""
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


def audit_handler(args: argparse.Namespace) -> int:
    from anchoring.audit import audit_stores, read_checkpoint_text

    settings = settings_from(args)
    verifier = None
    if runtime.platform_verifier_path(settings).exists():
        verifier = runtime.platform_verifier(settings)
    checkpoint = read_checkpoint_text(settings.checkpoint_path)
    since = None
    if args.since:
        if verifier is None:
            raise CommandError("--since needs the platform key: run `assay keys init`")
        try:
            since = read_checkpoint_text(args.since)
        except OSError as e:
            raise CommandError(f"cannot read {args.since}: {e.strerror}") from None
        if since is None:
            raise CommandError(f"cannot read {args.since}: no such file")
    report = audit_stores(
        lambda: runtime.open_ledger(settings),
        lambda: runtime.open_chain(settings),
        verifier,
        checkpoint,
        since,
    )
    for note in report.notes:
        print(note)
    summary = (
        f"{report.blocks} block(s), {report.leaves} leaves, "
        f"{report.notifications} ledger notifications checked"
    )
    if report.ok:
        print(f"audit OK: {summary}")
        return 0
    print(f"audit FAILED: {report.divergence}")
    print(f"(before the divergence: {summary})")
    return 1
