"""``assay publish FILE.jsonl --device-key PATH``: sign custody events and publish them.

Every good line is signed and kept in the device's outbox first (beside the key file, or
``--outbox PATH``), all in one transaction; then the outbox is sent. If the broker does not
acknowledge everything within ``--wait`` seconds (or a stop is requested), the rest stays
in the outbox, the command says so and exits 5: ``assay outbox flush`` (or the next
publish, or the device's scanner) sends it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import runtime
from assay.cli import CommandError
from assay.commands import settings_from
from assay.lifecycle import EXIT_OK, EXIT_UNSENT
from streams.keys import DeviceKey, KeyFileError
from streams.outbox import Outbox, OutboxError, outbox_beside

if TYPE_CHECKING:
    from assay.service import Service
    from streams.sender import OutboxSender

#: Lines kept per outbox transaction.
CHUNK = 1000


def register(sub: Any) -> None:
    p = sub.add_parser("publish", help="sign custody events (JSON lines) and publish them")
    p.add_argument("file", help="JSON lines file, one custody event per line ('-' for stdin)")
    p.add_argument("--device-key", required=True, type=Path, help="device key file")
    p.add_argument("--schema-version", type=int, help="custody_event schema version to write")
    p.add_argument(
        "--outbox", type=Path, help="the outbox file (default: <device key>.outbox.sqlite)"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the broker before leaving the rest in the outbox (30)",
    )
    p.set_defaults(handler=handle)


def open_outbox(path: Path) -> Outbox:
    try:
        return Outbox(path)
    except OutboxError as e:
        raise CommandError(str(e)) from None


def handle(args: argparse.Namespace) -> int:
    from assay.service import Service

    settings = settings_from(args)
    try:
        key = DeviceKey.load(args.device_key)
    except KeyFileError as e:
        raise CommandError(str(e)) from None
    lines = sys.stdin if args.file == "-" else _open(args.file)
    outbox = open_outbox(args.outbox or outbox_beside(args.device_key))
    with Service("publish", settings, 0, forced_code=EXIT_UNSENT) as service:
        try:
            kept, bad = _keep(args, settings.events_topic, key, lines, outbox)
            sender = runtime.outbox_sender(
                settings, outbox, runtime.kafka_connection(settings), "publish"
            )
            try:
                _wait(sender, args.wait, service)
            finally:
                waiting = sender.stop(service.stopper.remaining())
        finally:
            outbox.close()
        sent = max(0, kept - waiting)
        if waiting:
            service.summary(
                f"published {sent} of {kept} event(s) to {settings.events_topic}; {bad} bad "
                f"line(s); {waiting} wait in {outbox.path} for the broker (kept: `assay outbox "
                f"flush --outbox {outbox.path}` sends them)"
            )
            return EXIT_UNSENT
        service.summary(f"published {kept} event(s) to {settings.events_topic}; {bad} bad line(s)")
    return 1 if bad else EXIT_OK


def _keep(
    args: argparse.Namespace, topic: str, key: DeviceKey, lines: Any, outbox: Outbox
) -> tuple[int, int]:
    """Sign every good line into the outbox; report the bad ones. Returns (kept, bad)."""
    from streams.envelope import seal
    from streams.scanner import event_from_json

    kept = bad = 0
    chunk: list[tuple[str, bytes | None, bytes]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("a line must be a JSON object")
            event = event_from_json(data, key)
            envelope = seal(event, key, schema_version=args.schema_version)
        except (ValueError, TypeError) as e:
            bad += 1
            print(f"{args.file}:{number}: {e}", file=sys.stderr)
            continue
        chunk.append((topic, event.item_id.encode(), envelope))
        if len(chunk) >= CHUNK:
            kept += len(outbox.put_many(chunk))
            chunk = []
    if chunk:
        kept += len(outbox.put_many(chunk))
    return kept, bad


def _wait(sender: OutboxSender, wait: float, service: Service) -> None:
    """Wait up to ``wait`` seconds for the outbox to drain, or until a stop is requested."""
    deadline = time.monotonic() + wait
    while not service.stopped_by_signal:
        left = sender.wait_sent(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
        if not left or time.monotonic() >= deadline:
            return


def _open(path: str) -> Any:
    try:
        return Path(path).open(encoding="utf-8")
    except OSError as e:
        raise CommandError(f"cannot read {path}: {e.strerror}") from None
