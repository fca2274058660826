"""What every long-running command shares: its stop request, its metrics, its summary line.

    with Service("ingest", settings, args.metrics_port) as service:
        ingest.run(stop=service.stop)
        service.summary("ingested …")

Entering installs the SIGTERM/SIGINT handling (:mod:`assay.lifecycle`) and, when a port
is configured, the metrics endpoint (:mod:`assay.metrics`); leaving closes the endpoint
and tells the watchdog the process stopped cleanly.
"""

from __future__ import annotations

import threading
from types import TracebackType

from assay.lifecycle import EXIT_OK, Stopper
from assay.metrics import Metrics
from assay.settings import Settings


class Service:
    def __init__(
        self,
        name: str,
        settings: Settings,
        metrics_port: int | None = None,
        *,
        forced_code: int = EXIT_OK,
    ) -> None:
        self.name = name
        self.settings = settings
        self.stopper = Stopper(name, settings.stop_timeout, forced_code=forced_code)
        self.metrics = Metrics()
        self.metrics_port = settings.metrics_port if metrics_port is None else metrics_port

    @property
    def stop(self) -> threading.Event:
        """The event every loop of the process watches."""
        return self.stopper.event

    @property
    def stopped_by_signal(self) -> bool:
        return self.stopper.requested

    def summary(self, line: str) -> None:
        """The command's one line on stdout, saying so when a signal stopped it."""
        if self.stopper.reason is not None:
            line = f"{line} (stopped on {self.stopper.reason})"
        print(line, flush=True)

    def __enter__(self) -> Service:
        self.stopper.install()
        if self.metrics_port:
            self.metrics.serve(self.settings.metrics_host, self.metrics_port)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.metrics.close()
        self.stopper.finished()
