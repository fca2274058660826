"""Request metrics of Assay's HTTP servers (the witness, the EPCIS gateway): an ASGI
middleware counting requests by route, method and status, and timing them.

Routes are labelled by their template (``/capture/{capture_id}``), never by the path a
client sent, so a scan of random URLs cannot grow the metrics without bound: a path that
matches no route is labelled ``other``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "other"

#: Called once per finished request with its route template, method and status.
Outcome = Callable[[str, str, int], None]


class RequestMetrics:
    """Families shared by every server of one process, told apart by the ``server`` label."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "assay_http_requests",
            "HTTP requests answered, by server, route template, method and status",
            ["server", "route", "method", "status"],
            registry=registry,
        )
        self.seconds = Histogram(
            "assay_http_request_seconds",
            "Time from a request's arrival to the end of its reply, by server and route",
            ["server", "route"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

    def wrap(
        self,
        app: ASGIApp,
        server: str,
        routes: Sequence[BaseRoute],
        outcomes: Sequence[Outcome] = (),
    ) -> ASGIApp:
        return _Measured(app, self, server, routes, outcomes)


class _Measured:
    def __init__(
        self,
        app: ASGIApp,
        metrics: RequestMetrics,
        server: str,
        routes: Sequence[BaseRoute],
        outcomes: Sequence[Outcome],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.server = server
        self.routes = list(routes)
        self.outcomes = list(outcomes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the client sees if the app fails before it starts a reply

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self.route_of(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(self.server, route, method, str(status)).inc()
            self.metrics.seconds.labels(self.server, route).observe(time.perf_counter() - began)
            for outcome in self.outcomes:
                outcome(route, method, status)

    def route_of(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:  # PARTIAL: the path, another method (a 405)
                path: str = getattr(route, "path", UNMATCHED)
                return path
        return UNMATCHED
