"""``assay page --out DIR``: the verifier page's files, with the platform key and the
witness policy pinned in it (server/pinning.py), for a brand that hosts the page itself."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from assay.commands import settings_from


def register(sub: Any) -> None:
    p = sub.add_parser(
        "page", help="write the verifier page's files with the platform key and policy pinned"
    )
    p.add_argument("--out", required=True, type=Path, help="folder to write the files into")
    p.add_argument(
        "--pinned-key", metavar="FILE", help="platform verifier key (setting page_pinned_key)"
    )
    p.add_argument(
        "--witness-policy",
        metavar="FILE",
        help="witness policy (setting page_witness_policy)",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from server.pinning import export_page, load_pins

    settings = settings_from(args).with_overrides(
        page_pinned_key=args.pinned_key, page_witness_policy=args.witness_policy
    )
    pins = load_pins(settings)
    written = export_page(args.out, pins)
    pinned = [what for what, value in (("key", pins.key), ("witness policy", pins.policy)) if value]
    print(
        f"assay: wrote {len(written)} files of the verifier page to {args.out} "
        f"({' and '.join(pinned) + ' pinned' if pinned else 'nothing pinned'}); "
        f"open {args.out / 'verifier.html'}",
        file=sys.stderr,
    )
    return 0
