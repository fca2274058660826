"""``assay publish FILE.jsonl --device-key PATH``: sign and publish custody events."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assay import runtime
from assay.cli import CommandError
from assay.commands import settings_from
from streams.keys import DeviceKey, KeyFileError
from streams.producer import Producer
from streams.scanner import Scanner, event_from_json


def register(sub: Any) -> None:
    p = sub.add_parser("publish", help="sign custody events (JSON lines) and publish them")
    p.add_argument("file", help="JSON lines file, one custody event per line ('-' for stdin)")
    p.add_argument("--device-key", required=True, type=Path, help="device key file")
    p.add_argument("--schema-version", type=int, help="custody_event schema version to write")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        key = DeviceKey.load(args.device_key)
    except KeyFileError as e:
        raise CommandError(str(e)) from None
    lines = sys.stdin if args.file == "-" else _open(args.file)
    bootstrap = runtime.kafka_bootstrap(settings)
    sent = bad = 0
    with Producer(bootstrap) as producer:
        scanner = Scanner(
            key, producer, topic=settings.events_topic, schema_version=args.schema_version
        )
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("a line must be a JSON object")
                scanner.publish(event_from_json(data, key))
                sent += 1
            except (ValueError, TypeError) as e:
                bad += 1
                print(f"{args.file}:{number}: {e}", file=sys.stderr)
    print(f"published {sent} event(s) to {settings.events_topic}; {bad} bad line(s)")
    return 1 if bad else 0


def _open(path: str) -> Any:
    try:
        return Path(path).open(encoding="utf-8")
    except OSError as e:
        raise CommandError(f"cannot read {path}: {e.strerror}") from None
