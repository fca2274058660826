"""The ``assay`` command line: a thin shell over the composition root.

Each subcommand lives in ``assay/commands/<name>.py`` and exposes
``register(subparsers)``; this module only wires them and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from anchoring.errors import KeyFileError as PlatformKeyError
from assay.failures import describe
from assay.logs import setup_logging
from assay.metrics_errors import MetricsError
from assay.settings import LOG_FORMATS, SettingsError, load_settings
from devtools.kafka_dist import BrokerError
from ledger.config import StoreConfigError
from streams.keys import KeyFileError
from streams.outbox import OutboxError

COMMAND_MODULES = (
    "demo",
    "broker",
    "device",
    "publish",
    "outbox",
    "ingest",
    "rejected",
    "anchoring_cmds",
    "verify",
    "project",
    "sql",
    "run",
    "serve",
    "page",
    "epcis",
    "witness",
    "ots",
    "status",
    "privacy",
    "owner",
)


class CommandError(Exception):
    """A command failed in a way the user can act on; the message says how."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assay",
        description="Verifiable custody ledger for luxury goods.",
    )
    parser.add_argument(
        "--data-dir", help="where keys, stores and the local broker live (default ./assay-data)"
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="log lines as text or as JSON objects (default: setting log_format, text)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"assay.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        setup_logging(
            args.log_format or settings.log_format, settings.log_level, process=args.command
        )
        code: int = args.handler(args)
    except (
        CommandError,
        SettingsError,
        BrokerError,
        StoreConfigError,
        KeyFileError,
        PlatformKeyError,
        MetricsError,
        OutboxError,
    ) as e:
        print(f"assay: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        failure = describe(e, args.data_dir or os.environ.get("ASSAY_DATA_DIR", "assay-data"))
        if failure is None:
            raise  # a bug: keep the traceback
        print(f"assay: error: {failure.message}", file=sys.stderr)
        return failure.code
    return code


if __name__ == "__main__":
    sys.exit(main())
