"""``assay serve``: the read-only HTTP API and the verifier page (see server/app.py)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from assay.commands import add_metrics_flag, settings_from


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the read-only API and the in-browser verifier page")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument(
        "--pinned-key",
        metavar="FILE",
        help="platform verifier key the page pins (setting page_pinned_key)",
    )
    p.add_argument(
        "--witness-policy",
        metavar="FILE",
        help="witness policy the page pins (setting page_witness_policy)",
    )
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info"))
    add_metrics_flag(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import uvicorn

    from assay.service import Service
    from projections.analyst import analyst_path
    from server.app import create_app

    settings = settings_from(args)
    settings = settings.with_overrides(
        page_pinned_key=args.pinned_key, page_witness_policy=args.witness_policy
    )
    app = create_app(settings)
    with Service("serve", settings, args.metrics_port) as service:
        service.metrics.watch_snapshot(analyst_path(settings))
        print(
            f"assay: serving {settings.data_dir} on http://{args.host}:{args.port}/ "
            f"(verifier page at /verify, API described at /openapi.json)",
            file=sys.stderr,
            flush=True,
        )
        logging.getLogger("uvicorn").setLevel(args.log_level.upper())
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            # Assay's logging setup (text or JSON) formats uvicorn's lines too.
            log_config=None,
            # Bounded: at most 100 connections in flight (503 beyond), idle keep-alive closed
            # after 5 s, request head (line + headers) at most 16 KiB.
            limit_concurrency=100,
            timeout_keep_alive=5,
            h11_max_incomplete_event_size=16 * 1024,
            # SIGTERM / Ctrl-C: requests in flight get this long, then the server stops.
            timeout_graceful_shutdown=max(1, int(settings.stop_timeout) - 1),
        )
        service.summary(f"assay serve: stopped serving http://{args.host}:{args.port}/")
    return 0
