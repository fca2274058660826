"""A scanner application for the outage tests, built on the SDK only.

    python -m tests.faults.scanner_app KEY BOOTSTRAP TOPIC --items N [--first F] [--window W]

Makes the 5-scan story of items ``F .. F+N-1`` with one device (commissioning, observing,
shipping to ``dc``, recalling, observing: each step needs the one before it), prints
``made <n>``, then waits until the outbox is empty and exits 0. On SIGTERM it stops
within ``--stop-timeout`` seconds and exits 5 if scans are still waiting.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from streams.keys import DeviceKey
from streams.scanner import Scanner

STORY = 5


def story(scanner: Scanner, item: str, prefix: str) -> None:
    ids = [f"{prefix}-{item}-{n}" for n in range(STORY)]
    scanner.commission(item, tag_uid=f"TAG-{ids[0]}", brand="B", model="M", serial=item,
                       event_id=ids[0])  # fmt: skip
    scanner.observe(item, event_id=ids[1])
    scanner.ship(item, to="dc", event_id=ids[2])
    scanner.recall(item, event_id=ids[3])
    scanner.observe(item, event_id=ids[4])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("key", type=Path)
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("--items", type=int, default=0)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--stop-timeout", type=float, default=10.0)
    args = parser.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scanner = Scanner(
        DeviceKey.load(args.key),
        args.bootstrap,
        topic=args.topic,
        location="urn:epc:id:sgln:0614141.00001.0",
        window=args.window,
        stop_timeout=args.stop_timeout,
    )
    for n in range(args.first, args.first + args.items):
        story(scanner, f"urn:outage:{args.key.stem}:{n}", args.key.stem)
    print(f"made {args.items * STORY}", flush=True)
    while not stop.is_set() and scanner.unsent:
        stop.wait(0.1)
    left = scanner.close(timeout=0 if stop.is_set() else None)
    print(f"left {left}", flush=True)
    return 5 if left else 0


if __name__ == "__main__":
    sys.exit(main())
