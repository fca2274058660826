"""``assay ingest``: consume custody.events into the ledger (one or N workers)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from assay import runtime
from assay.commands import settings_from


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="consume custody events from Kafka into the ledger")
    p.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="exit once nothing arrived for this long",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run N worker processes in one consumer group (default 1)",
    )
    p.add_argument("--json", action="store_true", help="print the final counts as JSON")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise SystemExit("assay ingest: --workers must be at least 1")
    if args.workers > 1:
        return _spawn_workers(args)

    settings = settings_from(args)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("streams.ingest").setLevel(logging.INFO)
    bootstrap = runtime.kafka_bootstrap(settings)
    ingest = runtime.make_ingest(settings, bootstrap)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stats = ingest.run(until_idle=args.until_idle, stop=stop)
    except KeyboardInterrupt:
        stats = ingest.stats
    counts = stats.__dict__
    if args.json:
        print(json.dumps(counts))
    else:
        print(
            f"ingested {stats.consumed} messages: {stats.accepted} accepted, "
            f"{stats.flagged} flagged, {stats.duplicates} duplicates, {stats.rejected} rejected"
        )
    return 0


def _worker_env(instance_id: str, n: int) -> dict[str, str]:
    """Each worker its own static member id (``<id>-<n>``) when static membership is on."""
    env = dict(os.environ)
    if instance_id:
        env["ASSAY_INGEST_INSTANCE_ID"] = f"{instance_id}-{n}"
    return env


def _spawn_workers(args: argparse.Namespace) -> int:
    command = [sys.executable, "-m", "assay"]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    command += ["ingest"]
    if args.until_idle is not None:
        command += ["--until-idle", str(args.until_idle)]
    if args.json:
        command += ["--json"]
    settings = settings_from(args)
    workers = [
        subprocess.Popen(command, env=_worker_env(settings.ingest_instance_id, n))
        for n in range(args.workers)
    ]
    try:
        codes = [w.wait() for w in workers]
    except KeyboardInterrupt:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        codes = [w.wait() for w in workers]
    return max(codes)
