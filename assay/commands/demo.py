"""``assay demo``: run one item's custody story end to end and verify its proof."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from assay.commands import settings_from


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run one item's story end to end and verify its proof")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from assay.demo import render, run_demo

    settings = settings_from(args)

    def progress(message: str) -> None:
        if not args.json:
            print(f"… {message}", file=sys.stderr)

    report = run_demo(settings, progress)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(render(report))
    return 0 if report.verified else 1
