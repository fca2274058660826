"""``assay run``: ingest, anchor and projector together in one process (demo/small sites).

Each stage runs in its own thread with its own store connections, exactly as the separate
processes of a scaled deployment would. ``--until-idle S`` drains the pipeline in order —
ingest until quiet, then the anchor seals the rest, then the projector catches up. A stage
that fails stops the others, and the command ends with that stage's error. SIGTERM or
Ctrl-C stops every stage within ``stop_timeout`` without draining.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assay import runtime
from assay.commands import add_metrics_flag, add_until_idle_flag, settings_from

if TYPE_CHECKING:
    from anchoring.sealer import Anchor
    from assay.service import Service
    from projections.projector import Projector
    from streams.ingest import Ingest


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run ingest, anchor and projector together in one process")
    add_until_idle_flag(p, "drain everything and exit once ingest saw nothing for this long")
    p.add_argument("--json", action="store_true", help="print final counts as JSON")
    add_metrics_flag(p)
    p.set_defaults(handler=handle)


class Stage(threading.Thread):
    """One stage's thread; an error ends it, is kept, and wakes the main thread."""

    def __init__(self, name: str, target: Callable[[], Any], failed: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.target, self.failed = target, failed
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.target()
        except BaseException as e:
            self.error = e
            self.failed.set()


def handle(args: argparse.Namespace) -> int:
    from assay.publishing import checkpoints_published
    from assay.service import Service
    from projections.projector import Projector

    settings = settings_from(args)
    witnessing = runtime.checkpoint_witnessing(settings)  # a bad policy: exit 2 before starting
    with Service("run", settings, args.metrics_port) as service:
        bootstrap = runtime.kafka_bootstrap(settings)
        with checkpoints_published(service, bootstrap, witnessing) as publishing:
            ingest = runtime.make_ingest(settings, bootstrap)
            anchor = runtime.make_anchor(
                settings,
                runtime.open_ledger(settings),
                runtime.open_chain(settings),
                checkpoint_outbox=publishing.outbox,
                witnessing=witnessing,
            )
            projector = Projector(
                runtime.open_ledger(settings),
                runtime.open_chain(settings),
                settings.duckdb_path,
                snapshot_interval=settings.snapshot_interval,
            )
            try:
                service.metrics.watch_ingest(ingest)
                service.metrics.watch_anchor(anchor)
                service.metrics.watch_projector(projector)
                summary = _run(args, service, ingest, anchor, projector)
            finally:
                projector.close()
        waiting = publishing.waiting
        summary["checkpoints_waiting"] = waiting
        if args.json:
            print(json.dumps(summary), flush=True)
        else:
            line = (
                f"ingested {summary['ingest'].get('consumed', 0)} message(s), sealed "
                f"{summary['blocks_sealed']} block(s), projected "
                f"{summary['events_projected']} event(s)"
            )
            if waiting:
                line += f"; {waiting} checkpoint(s) wait in the outbox for the broker"
            service.summary(line)
    return 0


def _run(
    args: argparse.Namespace,
    service: Service,
    ingest: Ingest,
    anchor: Anchor,
    projector: Projector,
) -> dict[str, Any]:
    failed = threading.Event()
    stop_ingest, stop_anchor, stop_project = threading.Event(), threading.Event(), threading.Event()
    stages = [
        Stage("ingest", lambda: ingest.run(until_idle=args.until_idle, stop=stop_ingest), failed),
        Stage("anchor", lambda: anchor.run(stop=stop_anchor), failed),
        Stage("project", lambda: projector.run(stop=stop_project), failed),
    ]
    for stage in stages:
        stage.start()
    # Ingest first: the anchor and the projector then finish what it stored.
    while stages[0].is_alive() and not failed.is_set():
        if service.stop.wait(0.2):
            stop_ingest.set()
            break
    stop_ingest.set()
    stages[0].join(service.stopper.remaining())
    for stop, stage in ((stop_anchor, stages[1]), (stop_project, stages[2])):
        stop.set()
        stage.join(service.stopper.remaining())
    for stage in stages:
        if stage.error is not None:
            raise stage.error
    blocks, projected = stages[1].result or 0, stages[2].result or 0
    if not service.stopped_by_signal:
        blocks += anchor.catch_up()
        projected += projector.catch_up()
        projector.publish()
    stats = stages[0].result or ingest.stats
    return {
        "ingest": dict(stats.__dict__),
        "blocks_sealed": blocks,
        "events_projected": projected,
        "head_height": anchor.head.height if anchor.head else None,
    }
