"""``assay broker start|stop|status``: the local development Kafka broker."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from assay.cli import CommandError
from assay.commands import settings_from
from assay.settings import Settings
from devtools.kafka_dist import BrokerError

if TYPE_CHECKING:
    from devtools.localbroker import LocalBroker

EXIT_STOPPED = 3


def register(sub: Any) -> None:
    broker = sub.add_parser(
        "broker", help="the local development Kafka broker: start, stop, status"
    )
    bsub = broker.add_subparsers(dest="broker_command", required=True)
    start = bsub.add_parser("start", help="start the local broker (or reuse the running one)")
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait (default 90)")
    start.set_defaults(handler=start_handler)
    stop = bsub.add_parser("stop", help="stop the local broker")
    stop.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    stop.set_defaults(handler=stop_handler)
    status = bsub.add_parser("status", help="is the broker running? (exit 0 yes, 3 no)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=status_handler)


def _local(settings: Settings) -> LocalBroker:
    from devtools.localbroker import LocalBroker

    return LocalBroker(settings.data_dir, settings.kafka_version)


def start_handler(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if settings.kafka_bootstrap:
        print(
            f"a Kafka cluster is configured ({settings.kafka_bootstrap}, from "
            "ASSAY_KAFKA_BOOTSTRAP or the config file); not starting a local broker"
        )
        return 0
    broker = _local(settings)
    already = broker.status()
    began = time.monotonic()
    try:
        bootstrap = broker.start(timeout=args.timeout)
    except BrokerError as e:
        raise CommandError(str(e)) from None
    if already.running:
        print(f"{bootstrap}  (already running, pid {already.pid})")
    else:
        took = time.monotonic() - began
        print(f"{bootstrap}  (Kafka {settings.kafka_version} started in {took:.1f} s)")
    return 0


def stop_handler(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    broker = _local(settings)
    pid = broker.status().pid
    began = time.monotonic()
    try:
        stopped = broker.stop(timeout=args.timeout)
    except BrokerError as e:
        raise CommandError(str(e)) from None
    if stopped:
        took = time.monotonic() - began
        print(f"stopped the local broker (pid {pid}) in {took:.1f} s")
    else:
        print(f"no local broker was running in {broker.root}")
    if settings.kafka_bootstrap:
        print(f"the configured cluster ({settings.kafka_bootstrap}) is not Assay's to stop")
    return 0


def status_handler(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    report = _configured_report(settings) if settings.kafka_bootstrap else _local_report(settings)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        _print_report(report)
    return 0 if report["running"] else EXIT_STOPPED


def _configured_report(settings: Settings) -> dict[str, Any]:
    from devtools.localbroker import bootstrap_answers

    return {
        "kind": "configured",
        "running": bootstrap_answers(settings.kafka_bootstrap),
        "bootstrap": settings.kafka_bootstrap,
    }


def _local_report(settings: Settings) -> dict[str, Any]:
    status = _local(settings).status()
    return {
        "kind": "local",
        "running": status.running,
        "pid": status.pid,
        "bootstrap": status.bootstrap,
        "kafka_version": settings.kafka_version,
        "data_dir": str(status.data_dir),
        "log_file": str(status.log_file),
    }


def _print_report(report: dict[str, Any]) -> None:
    if report["kind"] == "configured":
        answers = "answers" if report["running"] else "does NOT answer"
        print(f"configured cluster {report['bootstrap']} {answers}")
        return
    print("running" if report["running"] else "stopped")
    for key in ("pid", "bootstrap", "kafka_version", "data_dir", "log_file"):
        if report[key] is not None:
            print(f"  {key + ':':<15}{report[key]}")
