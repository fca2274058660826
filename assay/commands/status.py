"""``assay status [--json]``: is every part of the deployment healthy? (exit 0, 1 or 3)"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from assay.commands import settings_from

if TYPE_CHECKING:
    from assay.status import Status

MARKS = {True: "ok  ", False: "FAIL", None: "    "}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "status",
        help="broker, ingest lag and ownership, blocks, checkpoint, projection, dead letters: "
        "healthy or not (exit 0 healthy, 1 unhealthy, 3 broker unreachable)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from assay.status import gather

    status = gather(settings_from(args))
    if args.json:
        print(json.dumps(status.as_json(), sort_keys=True, default=str))
    else:
        print(render(status))
    return status.exit_code


def render(status: Status) -> str:
    lines = [f"assay status at {status.checked_at}"]
    for check in status.checks:
        lines.append(f"  {MARKS[check.healthy]}  {check.name:<11}{check.summary}")
    unhealthy = [c.name for c in status.checks if c.healthy is False]
    lines.append("healthy" if not unhealthy else f"UNHEALTHY: {', '.join(unhealthy)}")
    return "\n".join(lines)
