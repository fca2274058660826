"""``assay ingest``: consume custody.events into the ledger (one or N workers)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from typing import Any

from assay import runtime
from assay.commands import add_metrics_flag, add_until_idle_flag, settings_from
from assay.lifecycle import Stopper


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="consume custody events from Kafka into the ledger")
    add_until_idle_flag(p, "exit once nothing arrived for this long")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run N worker processes in one consumer group (default 1)",
    )
    p.add_argument("--json", action="store_true", help="print the final counts as JSON")
    add_metrics_flag(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise SystemExit("assay ingest: --workers must be at least 1")
    if args.workers > 1:
        return _spawn_workers(args)
    from assay.service import Service

    settings = settings_from(args)
    with Service("ingest", settings, args.metrics_port) as service:
        bootstrap = runtime.kafka_bootstrap(settings)
        ingest = runtime.make_ingest(settings, bootstrap)
        service.metrics.watch_ingest(ingest)
        stats = ingest.run(until_idle=args.until_idle, stop=service.stop)
        if args.json:
            print(json.dumps(stats.__dict__), flush=True)
        else:
            service.summary(
                f"ingested {stats.consumed} messages: {stats.accepted} accepted, "
                f"{stats.flagged} flagged, {stats.duplicates} duplicates, "
                f"{stats.rejected} rejected"
            )
    return 0


def _worker_env(args: argparse.Namespace, n: int) -> dict[str, str]:
    """Worker n: its own static member id (``<id>-<n>``) when static membership is on, its
    own metrics port (port + n), and a stop budget inside the parent's."""
    settings = settings_from(args)
    env = dict(os.environ)
    if settings.ingest_instance_id:
        env["ASSAY_INGEST_INSTANCE_ID"] = f"{settings.ingest_instance_id}-{n}"
    port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
    if port:
        env["ASSAY_METRICS_PORT"] = str(port + n)
    env["ASSAY_STOP_TIMEOUT"] = str(max(1.0, settings.stop_timeout - 1))
    if getattr(args, "log_format", None):
        env["ASSAY_LOG_FORMAT"] = args.log_format
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
    stopper = Stopper("ingest", settings.stop_timeout).install()
    workers = [subprocess.Popen(command, env=_worker_env(args, n)) for n in range(args.workers)]
    try:
        while any(w.poll() is None for w in workers) and not stopper.event.wait(0.2):
            pass
        if stopper.requested:
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
        codes = [w.wait() for w in workers]
    finally:
        stopper.finished()
    return max(codes)
