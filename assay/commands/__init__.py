"""One module per ``assay`` subcommand; each exposes ``register(subparsers)``."""

from __future__ import annotations

import argparse
from pathlib import Path

from assay.settings import Settings, load_settings


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from env/TOML, with the global ``--data-dir`` flag applied."""
    settings = load_settings()
    data_dir = getattr(args, "data_dir", None)
    if data_dir:
        settings = settings.with_overrides(data_dir=Path(data_dir))
    return settings


def add_until_idle_flag(parser: argparse.ArgumentParser, help: str) -> None:
    """``--until-idle SECONDS`` of a long-running command; ``help`` says what idle means
    for it."""
    parser.add_argument("--until-idle", type=float, metavar="SECONDS", help=help)


def add_metrics_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on this port (default: setting metrics_port; 0: off)",
    )
