"""One logging setup for every Assay process: text lines for people, JSON lines for shippers.

Assay's own loggers log one line per event of note (a worker joined or lost partitions, the
broker went away or came back, a stop was requested); kafka-python's own connection chatter
is kept out unless the level is ``debug``, since Assay reports outages itself.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

#: The packages whose loggers follow ``log_level``.
ASSAY_LOGGERS = ("assay", "streams", "anchoring", "projections", "ledger", "server", "uvicorn")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(
    fmt: str = "text", level: str = "info", *, process: str = "", stream: TextIO | None = None
) -> None:
    """Send every log line to stderr (or ``stream``) in ``fmt``, from ``level`` up."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter  # only JSON logging pays for it

        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
                static_fields={"process": process} if process else None,
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    threshold = getattr(logging, level.upper(), logging.INFO)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ASSAY_LOGGERS:
        logging.getLogger(name).setLevel(threshold)
    # kafka-python logs every failed reconnect at ERROR; Assay logs the outage once.
    logging.getLogger("kafka").setLevel(
        logging.DEBUG if threshold <= logging.DEBUG else logging.CRITICAL
    )
    logging.captureWarnings(True)
