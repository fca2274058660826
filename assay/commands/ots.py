"""``assay ots stamp | upgrade | verify``: OpenTimestamps proofs of files (checkpoints)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay.cli import CommandError
from assay.commands import settings_from
from witness.errors import TimestampError

OTS_SUFFIX = ".ots"


def register(sub: Any) -> None:
    ots = sub.add_parser("ots", help="OpenTimestamps proofs of checkpoint files")
    osub = ots.add_subparsers(dest="ots_command", required=True)

    stamp = osub.add_parser("stamp", help="submit FILE's SHA-256 to the calendars; write FILE.ots")
    stamp.add_argument("file", type=Path)
    _calendars(stamp)
    stamp.set_defaults(handler=stamp_handler)

    upgrade = osub.add_parser("upgrade", help="complete pending timestamps from the calendars")
    upgrade.add_argument("ots_file", type=Path)
    _calendars(upgrade)
    upgrade.set_defaults(handler=upgrade_handler)

    verify = osub.add_parser("verify", help="check FILE.ots offline against a block header")
    verify.add_argument("ots_file", type=Path)
    verify.add_argument("--block-header", required=True, metavar="HEX", help="80-byte header")
    verify.add_argument("--target", type=Path, help="the stamped file (default: OTS_FILE - .ots)")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=verify_handler)


def _calendars(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calendar",
        action="append",
        default=[],
        metavar="URL",
        help="calendar URL (repeat; default: the ots_calendars setting)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per calendar")


def _calendar_urls(args: argparse.Namespace) -> list[str]:
    urls: list[str] = args.calendar or settings_from(args).ots_calendars.split()
    if not urls:
        raise CommandError("no calendar: give --calendar URL or set ASSAY_OTS_CALENDARS")
    return urls


def stamp_handler(args: argparse.Namespace) -> int:
    from witness.timestamps import ots_path_for, stamp_file

    calendars = _calendar_urls(args)
    try:
        result = stamp_file(args.file, calendars, timeout=args.timeout)
    except OSError as e:
        raise CommandError(f"cannot stamp {args.file}: {e}") from None
    except TimestampError as e:
        raise CommandError(str(e)) from None
    for url, reason in result.failures.items():
        print(f"calendar {url} failed: {reason}", file=sys.stderr)
    print(f"wrote {ots_path_for(args.file)}: pending at {', '.join(result.calendars)}")
    return 0


def upgrade_handler(args: argparse.Namespace) -> int:
    from witness.timestamps import upgrade_file

    try:
        result = upgrade_file(args.ots_file, _calendar_urls(args), timeout=args.timeout)
    except OSError as e:
        raise CommandError(f"cannot upgrade {args.ots_file}: {e}") from None
    except TimestampError as e:
        raise CommandError(str(e)) from None
    for url, reason in result.failures.items():
        print(f"calendar {url}: {reason}", file=sys.stderr)
    state = "complete (Bitcoin attestation)" if result.complete else "still pending"
    print(f"{args.ots_file}: {'upgraded' if result.changed else 'unchanged'}, {state}")
    return 0 if result.complete else 1


def verify_handler(args: argparse.Namespace) -> int:
    from witness.timestamps import verify_file

    name = str(args.ots_file)
    target = args.target or Path(name[: -len(OTS_SUFFIX)] if name.endswith(OTS_SUFFIX) else name)
    try:
        verified = verify_file(args.ots_file, target, args.block_header)
    except OSError as e:
        raise CommandError(f"cannot read input: {e}") from None
    except TimestampError as e:
        if args.json:
            print(json.dumps({"verified": False, "step": e.step, "error": e.message}))
        else:
            print(f"NOT VERIFIED: {e.step}: {e.message}")
        return 1
    when = datetime.fromtimestamp(verified.block_time, UTC).isoformat()
    if args.json:
        print(json.dumps({"verified": True, **verified.__dict__, "block_time_iso": when}))
    else:
        print(
            f"VERIFIED: {target} existed before block {verified.block_hash} "
            f"(height {verified.height}, block time {when})"
        )
    return 0
