"""``assay epcis serve --device-key PATH``: the GS1 EPCIS 2.0 capture gateway (docs/epcis.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from assay import runtime
from assay.cli import CommandError
from assay.commands import add_metrics_flag, settings_from

GATEWAY_DB = "epcis-gateway.sqlite"


def register(sub: Any) -> None:
    epcis = sub.add_parser("epcis", help="GS1 EPCIS 2.0: the capture gateway")
    esub = epcis.add_subparsers(dest="epcis_command", required=True)
    serve = esub.add_parser(
        "serve", help="capture EPCIS documents, signed with an enrolled device key"
    )
    serve.add_argument("--device-key", required=True, type=Path, help="the gateway's device key")
    serve.add_argument("--parties", type=Path, help="TOML table: EPCIS party ids -> Assay parties")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info")
    )
    add_metrics_flag(serve)
    serve.set_defaults(handler=serve_handler)


def serve_handler(args: argparse.Namespace) -> int:
    import uvicorn

    from assay.service import Service
    from epcis.app import create_gateway_app
    from epcis.capture import Limits, Reader
    from epcis.dist import SchemaFetchError, ensure_schema
    from epcis.gateway import Gateway
    from epcis.mapping import Signer
    from epcis.parties import PartiesFileError, PartyTable
    from epcis.schema import EPCISSchema
    from epcis.store import GatewayStore
    from streams.keys import DeviceKey, KeyFileError
    from streams.producer import Producer
    from streams.scanner import Scanner

    settings = settings_from(args)
    try:
        key = DeviceKey.load(args.device_key)
        parties = PartyTable.load(args.parties) if args.parties else PartyTable()
        schema = EPCISSchema(ensure_schema(settings.epcis_schema))
    except (KeyFileError, PartiesFileError, SchemaFetchError) as e:
        raise CommandError(str(e)) from None
    limits = Limits(settings.epcis_capture_limit, settings.epcis_capture_max_bytes)
    reader = Reader(schema, Signer(key.party_id, key.device_id), parties, limits)
    producer = Producer(runtime.kafka_bootstrap(settings))
    scanner = Scanner(key, producer, topic=settings.events_topic)
    gateway = Gateway(reader, GatewayStore(settings.data_dir / GATEWAY_DB), scanner)
    print(
        f"assay: EPCIS capture gateway for {key.party_id}/{key.device_id} on "
        f"http://{args.host}:{args.port}/capture (topic {settings.events_topic})",
        file=sys.stderr,
        flush=True,
    )
    app = create_gateway_app(gateway)
    with Service("epcis serve", settings, args.metrics_port) as service:
        service.metrics.watch_gateway(gateway)
        try:
            uvicorn.run(
                service.metrics.wrap_http(app, "epcis", app.routes),
                host=args.host,
                port=args.port,
                log_level=args.log_level,
                limit_concurrency=100,
                timeout_keep_alive=5,
                h11_max_incomplete_event_size=16 * 1024,
            )
        finally:
            gateway.close()
        service.summary(f"assay epcis serve: stopped serving http://{args.host}:{args.port}/")
    return 0


def epcis_history(args: argparse.Namespace) -> int:
    """``assay history ITEM --epcis``: the item's history as an EPCISDocument (stdout)."""
    import json

    from epcis.export import document, item_history
    from ledger.application import ItemNotFound

    settings = settings_from(args)
    try:
        events = item_history(
            runtime.open_ledger(settings), runtime.open_chain(settings), args.item_id
        )
    except ItemNotFound:
        raise CommandError(f"no item {args.item_id!r} in the ledger") from None
    json.dump(document(events), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0
