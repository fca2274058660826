"""``assay run``: ingest, anchor and projector together in one process (demo/small sites).

Each stage runs in its own thread with its own store connections, exactly as the separate
processes of a scaled deployment would. ``--until-idle S`` drains the pipeline in order —
ingest until quiet, then the anchor seals the rest, then the projector catches up.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from assay import runtime
from assay.commands import settings_from


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run ingest, anchor and projector together in one process")
    p.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="drain everything and exit once ingest saw nothing for this long",
    )
    p.add_argument("--json", action="store_true", help="print final counts as JSON")
    p.set_defaults(handler=handle)


def _thread(name: str, target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def handle(args: argparse.Namespace) -> int:
    from projections.projector import Projector
    from streams.producer import Producer

    settings = settings_from(args)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    bootstrap = runtime.kafka_bootstrap(settings)
    stop_ingest, stop_anchor, stop_project = threading.Event(), threading.Event(), threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop_ingest.set())

    ingest = runtime.make_ingest(settings, bootstrap)
    checkpoints = Producer(bootstrap)
    anchor = runtime.make_anchor(
        settings, runtime.open_ledger(settings), runtime.open_chain(settings), checkpoints
    )
    projector = Projector(
        runtime.open_ledger(settings),
        runtime.open_chain(settings),
        settings.duckdb_path,
        snapshot_interval=settings.snapshot_interval,
    )
    results: dict[str, Any] = {}
    threads = [
        _thread(
            "ingest",
            lambda: results.setdefault(
                "ingest", ingest.run(until_idle=args.until_idle, stop=stop_ingest)
            ),
        ),
        _thread("anchor", lambda: results.setdefault("blocks", anchor.run(stop=stop_anchor))),
        _thread(
            "project", lambda: results.setdefault("projected", projector.run(stop=stop_project))
        ),
    ]
    try:
        while threads[0].is_alive():
            threads[0].join(timeout=0.5)
        for stop, thread in ((stop_anchor, threads[1]), (stop_project, threads[2])):
            stop.set()
            thread.join()
        results["blocks"] = results.get("blocks", 0) + anchor.catch_up()
        results["projected"] = results.get("projected", 0) + projector.catch_up()
        projector.publish()
    finally:
        checkpoints.close()
        projector.close()
    stats = results.get("ingest")
    summary = {
        "ingest": stats.__dict__ if stats is not None else {},
        "blocks_sealed": results["blocks"],
        "events_projected": results["projected"],
        "head_height": anchor.head.height if anchor.head else None,
    }
    print(
        json.dumps(summary)
        if args.json
        else f"ingested {summary['ingest'].get('consumed', 0)} message(s), sealed "
        f"{summary['blocks_sealed']} block(s), projected {summary['events_projected']} event(s)"
    )
    return 0
