"""``assay owner``: an item's owner speaks for it with a key of their own (docs/custody-rules.md,
"The owner's statements"; docs/owner-statements.md for the bytes).

    assay owner keygen --out FILE                       # a key (0600); prints its fingerprint
    assay owner claim ITEM --code C --key FILE          # the key becomes the owner
    assay owner transfer ITEM --key FILE                # prints the next owner's code
    assay owner report-stolen ITEM --key FILE [--lost]  # later scans are flagged
    assay owner withdraw-report ITEM --key FILE
    assay owner consign ITEM --to PARTY --key FILE      # to the platform for resale
    assay owner status ITEM                             # version, owner fingerprint, open claim
    assay owner serve [--host H] [--port P]             # the owner endpoint (server/owner_app.py)

The statement commands sign with the key file and POST the envelope to the owner endpoint
(``--endpoint``, setting ``owner_endpoint``), after reading the item's version there.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from assay.cli import CommandError
from assay.commands import add_metrics_flag, settings_from
from domain.owner_statement import OwnerKind
from domain.privacy import claim_commitment, new_claim_code, typed_claim_code
from streams.keys import KeyFileError

TIMEOUT = 30.0


def register(sub: Any) -> None:
    owner = sub.add_parser("owner", help="an item's owner: claim, transfer, report, consign")
    osub = owner.add_subparsers(dest="owner_command", required=True)
    keygen = osub.add_parser("keygen", help="write a new owner key (mode 0600)")
    keygen.add_argument("--out", required=True, type=Path)
    keygen.set_defaults(handler=keygen_handler)

    def statement(name: str, help: str, kind: OwnerKind) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = osub.add_parser(name, help=help)
        p.add_argument("item_id")
        p.add_argument("--key", required=True, type=Path, help="the owner key file")
        p.add_argument("--endpoint", help="owner endpoint URL (setting owner_endpoint)")
        p.set_defaults(handler=statement_handler, kind=kind)
        return p

    claim = statement("claim", "claim a bought item with its code", OwnerKind.CLAIM)
    claim.add_argument(
        "--code",
        required=True,
        help="the one-time code from the receipt, in any case, dashes optional (a code of "
        "an earlier version beginning with '-' is given as --code=CODE)",
    )
    statement("transfer", "hand the item on: prints the next owner's code", OwnerKind.TRANSFER)
    report = statement(
        "report-stolen", "report the item stolen (or lost)", OwnerKind.REPORT_MISSING
    )
    report.add_argument("--lost", action="store_true", help="lost, not stolen")
    statement("withdraw-report", "withdraw a stolen or lost report", OwnerKind.WITHDRAW_REPORT)
    consign = statement("consign", "consign the item to the platform for resale", OwnerKind.CONSIGN)
    consign.add_argument("--to", required=True, dest="consignee", help="the receiving party")

    status = osub.add_parser("status", help="an item's version and owner fingerprint")
    status.add_argument("item_id")
    status.add_argument("--endpoint", help="owner endpoint URL (setting owner_endpoint)")
    status.set_defaults(handler=status_handler)

    serve = osub.add_parser("serve", help="the owner endpoint: signed statements → Kafka")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8090, help="port to listen on (default 8090)")
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info")
    )
    add_metrics_flag(serve)
    serve.set_defaults(handler=serve_handler)


def keygen_handler(args: argparse.Namespace) -> int:
    from streams.owner_keys import OwnerKey

    key = OwnerKey.generate()
    try:
        key.save(args.out)
    except KeyFileError as e:
        raise CommandError(str(e)) from None
    print(key.fingerprint)
    return 0


def statement_handler(args: argparse.Namespace) -> int:
    from streams.owner_envelope import new_statement, seal_statement
    from streams.owner_keys import OwnerKey

    endpoint = _endpoint(args)
    try:
        key = OwnerKey.load(args.key)
    except KeyFileError as e:
        raise CommandError(str(e)) from None
    view = _call(endpoint, f"/owner/items/{_quote(args.item_id)}")
    fields: dict[str, Any] = {}
    code = None
    kind: OwnerKind = args.kind
    if kind is OwnerKind.CLAIM:
        fields["claim_code"] = typed_claim_code(args.code)
    elif kind is OwnerKind.TRANSFER:
        code = new_claim_code()
        fields["claim_salt"], fields["claim_digest"] = claim_commitment(code)
    elif kind is OwnerKind.REPORT_MISSING:
        fields["reason"] = "lost" if args.lost else "stolen"
    elif kind is OwnerKind.CONSIGN:
        fields["consignee"] = args.consignee
    statement = new_statement(key, kind, args.item_id, int(view["version"]), **fields)
    envelope = seal_statement(statement, key)
    answer = _call(
        endpoint,
        "/owner/statements",
        {"envelope_b64": base64.b64encode(envelope).decode("ascii")},
    )
    print(
        f"{kind.value} of {args.item_id} by {key.fingerprint}: {answer['status']} "
        f"(statement {statement.statement_id}; the ledger's decision follows: "
        f"assay owner status {args.item_id})"
    )
    if code is not None:
        print(f"claim code for the next owner (give it to them, keep it private): {code}")
    return 0


def status_handler(args: argparse.Namespace) -> int:
    view = _call(_endpoint(args), f"/owner/items/{_quote(args.item_id)}")
    print(json.dumps(view, indent=2, sort_keys=True))
    return 0


def serve_handler(args: argparse.Namespace) -> int:
    import uvicorn

    from assay import runtime
    from assay.service import Service
    from server.owner_app import create_owner_app
    from server.owner_view import ownership_view, refusal
    from streams.producer import Producer

    settings = settings_from(args)
    ledger = runtime.open_ledger(settings)
    producer = Producer(runtime.kafka_bootstrap(settings))
    topic = settings.events_topic

    def publish(item_id: str, envelope: bytes) -> None:
        producer.send(topic, envelope, key=item_id.encode())
        producer.flush(timeout=10.0)

    app = create_owner_app(
        publish,
        lambda item_id: ownership_view(ledger, item_id),
        lambda statement: refusal(ledger, statement),
    )
    print(
        f"assay: owner endpoint on http://{args.host}:{args.port}/owner/statements (topic {topic})",
        file=sys.stderr,
        flush=True,
    )
    with Service("owner serve", settings, args.metrics_port) as service:
        try:
            uvicorn.run(
                app,
                host=args.host,
                port=args.port,
                log_level=args.log_level,
                limit_concurrency=100,
                timeout_keep_alive=5,
                h11_max_incomplete_event_size=16 * 1024,
            )
        finally:
            producer.close(timeout=5.0)
        service.summary(f"assay owner serve: stopped serving http://{args.host}:{args.port}/")
    return 0


def _endpoint(args: argparse.Namespace) -> str:
    return str(args.endpoint or settings_from(args).owner_endpoint).rstrip("/")


def _quote(item_id: str) -> str:
    from urllib.parse import quote

    return quote(item_id, safe=":")


def _call(endpoint: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        endpoint + path,
        data=data,
        headers={"Content-Type": "application/json"} if data is not None else {},
        method="GET" if data is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as e:
        try:
            error = json.loads(e.read())
            message = f"{error['error']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {e.code}"
        raise CommandError(f"the owner endpoint refused: {message}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise CommandError(f"cannot reach the owner endpoint {endpoint}: {e}") from None
