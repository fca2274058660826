"""``assay keys init``, ``assay anchor``, ``assay prove``, ``assay verify``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import runtime
from assay.cli import CommandError
from assay.commands import add_metrics_flag, add_until_idle_flag, settings_from

if TYPE_CHECKING:
    from anchoring.sealer import Anchor
    from witness.stamper import CheckpointStamper
    from witness.submitter import CheckpointWitnessing


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="the platform's checkpoint signing key")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    init = ksub.add_parser("init", help="create the platform key (0600) and print its public form")
    init.set_defaults(handler=keys_init)
    show = ksub.add_parser("show", help="print the platform's public (verifier) key")
    show.set_defaults(handler=keys_show)

    anchor = sub.add_parser("anchor", help="seal ledger events into blocks and sign checkpoints")
    add_until_idle_flag(
        anchor, "seal what is pending and exit once the ledger had nothing new this long"
    )
    anchor.add_argument("--once", action="store_true", help="seal what is recorded now and exit")
    add_metrics_flag(anchor)
    anchor.set_defaults(handler=anchor_handler)

    prove = sub.add_parser("prove", help="write the proof bundle of an item")
    prove.add_argument("item_id")
    prove.add_argument("-o", "--output", type=Path, help="bundle file (default: stdout)")
    prove.add_argument(
        "--format",
        type=int,
        choices=(1, 2, 3, 4, 5),
        help="bundle format version (default: 5, complete history and proven parties and "
        "device keys with compact map proofs, or 4 the same with map proofs in hex, or 3 "
        "before the chain's registry switch, under a version 2 "
        "checkpoint, the log's tree head; 2 and 1 (inclusion only) need a version 1 "
        "checkpoint, the head block's hash, as chains of version 1 blocks still sign)",
    )
    prove.set_defaults(handler=prove_handler)

    audit = sub.add_parser("audit", help="recompute every leaf, root, link and signature")
    audit.add_argument(
        "--since",
        type=Path,
        metavar="CHECKPOINT_FILE",
        help="also prove this earlier checkpoint is an ancestor of today's (an RFC 9162 "
        "consistency proof when both are version 2 checkpoints)",
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
    stamper = runtime.checkpoint_stamper(settings)
    witnessing = runtime.checkpoint_witnessing(settings)
    if args.once:
        anchor = runtime.make_anchor(
            settings, ledger, chain, stamper=stamper, witnessing=witnessing
        )
        sealed = anchor.catch_up()  # ends by offering the head, even if nothing was sealed
        if stamper is not None and witnessing is None:
            anchor.write_checkpoint()
        if witnessing is not None:
            witnessing.flush(settings.stop_timeout)
            witnessing.stop()
        _report(sealed, anchor, print)
        if witnessing is not None:
            _report_witnesses(witnessing, print)
        if stamper is not None:
            stamper.run_once()
            _report_stamps(stamper, print)
        return 0
    from assay.publishing import checkpoints_published
    from assay.service import Service

    with Service("anchor", settings, args.metrics_port) as service:
        if stamper is not None:
            stamper.start()  # its own thread: a slow calendar never delays a seal
        connection = runtime.kafka_connection(settings)
        try:
            with checkpoints_published(service, connection, witnessing) as publishing:
                anchor = runtime.make_anchor(
                    settings,
                    ledger,
                    chain,
                    checkpoint_outbox=publishing.outbox,
                    stamper=stamper,
                    witnessing=witnessing,
                )
                service.metrics.watch_anchor(anchor)
                sealed = anchor.run(until_idle=args.until_idle, stop=service.stop)
        finally:
            if stamper is not None:
                stamper.stop(service.stopper.remaining())
        waiting = publishing.waiting
        _report(sealed, anchor, service.summary, waiting)
        if witnessing is not None:
            _report_witnesses(witnessing, service.summary)
        if stamper is not None:
            _report_stamps(stamper, service.summary)
    return 0


def _report_witnesses(witnessing: CheckpointWitnessing, say: Callable[[str], None]) -> None:
    status = witnessing.snapshot()
    parts = []
    for name, record in sorted(status.witnesses.items()):
        part = f"{name} at {record.cosigned_size}"
        if record.last_status not in ("", "cosigned"):
            part += f" (last: {record.last_status} {record.last_detail})"
        parts.append(part)
    line = f"witnesses: checkpoint {status.published_size} published with "
    line += f"{status.published_cosignatures} cosignature(s); " + ", ".join(parts)
    if status.verdict is not None:
        line += f"; {status.verdict.message}"
    say(line)


def _report_stamps(stamper: CheckpointStamper, say: Callable[[str], None]) -> None:
    status = stamper.status
    line = f"timestamps: {status.stamped} checkpoint(s) stamped in {stamper.directory}"
    if status.failures:
        line += f"; {status.failures} calendar failure(s), last: {status.last_error}"
    say(line)


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
    from anchoring.prove import ProveError, Prover, UnknownItem, write_bundle

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
