"""``assay project``: follow the ledger and the chain into the DuckDB projections."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from assay import runtime
from assay.cli import CommandError
from assay.commands import add_metrics_flag, add_until_idle_flag, settings_from
from assay.settings import Settings

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from projections.projector import Projector


def register(sub: Any) -> None:
    project = sub.add_parser(
        "project",
        help="follow the ledger and the chain into DuckDB tables (and the analyst snapshot)",
    )
    add_until_idle_flag(
        project, "exit once nothing new arrived for this long (default: follow until Ctrl-C)"
    )
    project.add_argument(
        "--rebuild",
        action="store_true",
        help="drop every projection, rebuild it from the event store (progress on stderr), exit",
    )
    add_metrics_flag(project)
    project.set_defaults(handler=project_handler)


def make_projector(
    settings: Settings, ledger: Application[str], chain: Application[str]
) -> Projector:
    import duckdb

    from projections.analyst import analyst_path
    from projections.projector import Projector, ProjectorBusy

    try:
        return Projector(
            ledger,
            chain,
            settings.duckdb_path,
            snapshot_path=analyst_path(settings),
            snapshot_interval=settings.snapshot_interval,
        )
    except ProjectorBusy as e:
        raise CommandError(str(e)) from None
    except duckdb.IOException as e:
        raise CommandError(
            f"cannot open {settings.duckdb_path} for writing (is another `assay project` or "
            f"`assay run` using it?): {e}"
        ) from None


def project_handler(args: argparse.Namespace) -> int:
    from assay.service import Service

    settings = settings_from(args)
    ledger, chain = runtime.open_ledger(settings), runtime.open_chain(settings)
    if args.rebuild:
        with make_projector(settings, ledger, chain) as projector:
            started = time.monotonic()
            done = projector.rebuild(progress=ProgressBar())
            projector.publish()
            _report(projector, done, started)
        return 0
    with (
        Service("project", settings, args.metrics_port) as service,
        make_projector(settings, ledger, chain) as projector,
    ):
        service.metrics.watch_projector(projector)
        started = time.monotonic()
        done = projector.run(until_idle=args.until_idle, stop=service.stop)
        _report(projector, done, started, service.stopper.reason)
    return 0


def _report(projector: Projector, done: int, started: float, signal: str | None = None) -> None:
    elapsed = max(time.monotonic() - started, 1e-9)
    stopped = f" (stopped on {signal})" if signal else ""
    print(
        f"# projected {done} notifications in {elapsed:.1f}s; ledger at "
        f"{projector.position('ledger')}, chain at {projector.position('chain')}; "
        f"analysts: duckdb -readonly {projector.snapshot_path}{stopped}",
        file=sys.stderr,
        flush=True,
    )


class ProgressBar:
    """``[#####.....]  52%  520000/1000000  104k/s`` on stderr, redrawn at most 5×/s."""

    WIDTH = 30

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.drawn = 0.0
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        fraction = min(done / total, 1.0) if total else 1.0
        if self.tty:
            if now - self.drawn < 0.2 and not finished:
                return
            end = "\n" if finished else ""
            print(f"\r{self.line(done, total, fraction, now)}", end=end, file=sys.stderr)
        else:  # a log, not a terminal: one line per tenth
            decile = int(fraction * 10)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            print(self.line(done, total, fraction, now), file=sys.stderr)
        self.drawn = now

    def line(self, done: int, total: int, fraction: float, now: float) -> str:
        filled = int(self.WIDTH * fraction)
        rate = done / max(now - self.started, 1e-9)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        return f"rebuild [{bar}] {fraction:4.0%}  {done}/{total}  {rate / 1000:.0f}k/s"
