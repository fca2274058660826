"""``assay outbox status|flush``: what waits in an outbox, and sending it now.

The outbox is ``--outbox PATH``, or the one beside ``--device-key PATH`` (where the scanner
SDK and ``assay publish`` keep a device's scans), or by default the anchor's outbox of
signed checkpoints in the data dir. Both subcommands exit 0 when nothing is left to send
and 5 when messages still wait (kept, never dropped).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from assay import runtime
from assay.cli import CommandError
from assay.commands import settings_from
from assay.commands.publish import open_outbox
from assay.lifecycle import EXIT_OK, EXIT_UNSENT
from streams.outbox import OutboxState, outbox_beside


def register(sub: Any) -> None:
    outbox = sub.add_parser("outbox", help="a scanner's (or the anchor's) outbox: status, flush")
    osub = outbox.add_subparsers(dest="outbox_command", required=True)
    status = osub.add_parser("status", help="messages waiting, refused, and the oldest's age")
    _where(status)
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=status_handler)
    flush = osub.add_parser("flush", help="send what waits now (until sent, or --wait)")
    _where(flush)
    flush.add_argument(
        "--wait", type=float, metavar="SECONDS", help="give up after this long (default: never)"
    )
    flush.add_argument(
        "--retry-failed", action="store_true", help="send refused messages again too"
    )
    flush.set_defaults(handler=flush_handler)


def _where(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--outbox", type=Path, help="the outbox file")
    group.add_argument("--device-key", type=Path, help="the outbox beside this device key")


def _path(args: argparse.Namespace) -> Path:
    if args.outbox is not None:
        path: Path = args.outbox
    elif args.device_key is not None:
        path = outbox_beside(args.device_key)
    else:
        path = settings_from(args).checkpoint_outbox_path
    if not path.exists():
        raise CommandError(f"no outbox at {path}")
    return path


def status_handler(args: argparse.Namespace) -> int:
    with open_outbox(_path(args)) as outbox:
        state = outbox.state()
    if args.json:
        print(json.dumps(_as_json(state), sort_keys=True))
    else:
        print(describe(state))
        for seq, reason in state.failures:
            print(f"  refused #{seq}: {reason}")
    return EXIT_UNSENT if state.pending or state.failed else EXIT_OK


def describe(state: OutboxState) -> str:
    age = state.age()
    oldest = f", oldest {age:.0f} s old" if age is not None else ""
    return (
        f"{state.path}: {state.pending} message(s) waiting{oldest}; "
        f"{state.failed} refused by the broker"
    )


def _as_json(state: OutboxState) -> dict[str, Any]:
    return {
        "path": str(state.path),
        "pending": state.pending,
        "failed": state.failed,
        "oldest_age_seconds": state.age(),
        "failures": [{"seq": seq, "reason": reason} for seq, reason in state.failures],
    }


def flush_handler(args: argparse.Namespace) -> int:
    from assay.service import Service

    settings = settings_from(args)
    path = _path(args)
    with Service("outbox flush", settings, 0, forced_code=EXIT_UNSENT) as service:
        with open_outbox(path) as outbox:
            if args.retry_failed:
                outbox.retry_failed()
            before = outbox.depth()
            sender = runtime.outbox_sender(
                settings, outbox, runtime.kafka_connection(settings), "flush"
            )
            deadline = None if args.wait is None else time.monotonic() + args.wait
            try:
                while not service.stopped_by_signal:
                    left = sender.wait_sent(timeout=0.5)
                    if not left or not sender.alive:
                        break
                    if deadline is not None and time.monotonic() >= deadline:
                        break
            finally:
                sender.stop(service.stopper.remaining())
            state = outbox.state()
        service.summary(f"sent {sender.sent} of {before}; {describe(state)}")
    return EXIT_UNSENT if state.pending or state.failed else EXIT_OK
