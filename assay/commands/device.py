"""``assay device keygen|enrol|revoke`` and ``assay party add|declare``: who may scan."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from assay import runtime
from assay.cli import CommandError
from assay.commands import settings_from
from domain.custody import Role
from domain.errors import DomainError
from streams.keys import DeviceKey, KeyFileError


def register(sub: Any) -> None:
    device = sub.add_parser("device", help="device keys: keygen, enrol, revoke")
    dsub = device.add_subparsers(dest="device_command", required=True)
    keygen = dsub.add_parser("keygen", help="write a new device private key (mode 0600)")
    keygen.add_argument("--out", required=True, type=Path)
    keygen.add_argument("--party", required=True, help="party id the device belongs to")
    keygen.add_argument("--device", required=True, help="device id, unique within the party")
    keygen.set_defaults(handler=keygen_handler)
    enrol = dsub.add_parser("enrol", help="enrol a device's public key for its party")
    enrol.add_argument("--key", type=Path, help="device key file (public half is used)")
    enrol.add_argument("--party")
    enrol.add_argument("--device")
    enrol.add_argument("--public-key", help="hex Ed25519 public key (instead of --key)")
    enrol.add_argument(
        "--effective-from",
        metavar="ISO8601",
        help="the key speaks for the party from this earlier time (migrating a history; "
        "recorded and shown with the enrolment)",
    )
    enrol.set_defaults(handler=enrol_handler)
    revoke = dsub.add_parser("revoke", help="revoke a device from now on")
    revoke.add_argument("--party", required=True)
    revoke.add_argument("--device", required=True)
    revoke.set_defaults(handler=revoke_handler)

    party = sub.add_parser("party", help="parties: add")
    psub = party.add_subparsers(dest="party_command", required=True)
    add = psub.add_parser("add", help="register a brand, appraiser, warehouse or store")
    add.add_argument("party_id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    _authority_arguments(add)
    add.set_defaults(handler=party_add_handler)
    declare = psub.add_parser(
        "declare", help="a brand declares more brand names and GS1 company prefixes it owns"
    )
    declare.add_argument("party_id")
    _authority_arguments(declare)
    declare.set_defaults(handler=party_declare_handler)


def _authority_arguments(parser: Any) -> None:
    parser.add_argument(
        "--brand", action="append", default=[], metavar="NAME",
        help="a brand name the brand owns (repeatable); it commissions only under these",
    )  # fmt: skip
    parser.add_argument(
        "--company-prefix", action="append", default=[], metavar="PREFIX",
        help="a GS1 company prefix the brand owns (6-12 digits; repeatable)",
    )  # fmt: skip


def keygen_handler(args: argparse.Namespace) -> int:
    key = DeviceKey.generate(args.party, args.device)
    try:
        key.save(args.out)
    except KeyFileError as e:
        raise CommandError(str(e)) from None
    print(key.public_key_hex)
    return 0


def enrol_handler(args: argparse.Namespace) -> int:
    if args.key:
        try:
            key = DeviceKey.load(args.key)
        except KeyFileError as e:
            raise CommandError(str(e)) from None
        party, device, public = key.party_id, key.device_id, key.public_key_hex
    elif args.party and args.device and args.public_key:
        party, device, public = args.party, args.device, args.public_key.strip().lower()
    else:
        raise CommandError("give --key FILE, or --party, --device and --public-key")
    effective_from = _time(args.effective_from) if args.effective_from else None
    ledger = runtime.open_ledger(settings_from(args))
    try:
        ledger.enrol_device(party, device, public, effective_from=effective_from)
    except DomainError as e:
        raise CommandError(f"{e.rule}: {e.reason}") from None
    except ValueError as e:
        raise CommandError(str(e)) from None
    since = f", effective from {effective_from.isoformat()}" if effective_from else ""
    print(f"enrolled {party}/{device}{since}")
    return 0


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--effective-from {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CommandError("--effective-from needs a time zone, e.g. 2025-12-01T00:00:00+00:00")
    return moment


def revoke_handler(args: argparse.Namespace) -> int:
    ledger = runtime.open_ledger(settings_from(args))
    try:
        ledger.revoke_device(args.party, args.device)
    except DomainError as e:
        raise CommandError(f"{e.rule}: {e.reason}") from None
    print(f"revoked {args.party}/{args.device}")
    return 0


def party_add_handler(args: argparse.Namespace) -> int:
    ledger = runtime.open_ledger(settings_from(args))
    try:
        ledger.register_party(
            args.party_id, args.name, Role(args.role), args.brand, args.company_prefix
        )
    except DomainError as e:
        raise CommandError(f"{e.rule}: {e.reason}") from None
    except ValueError as e:
        raise CommandError(str(e)) from None
    print(f"registered {args.role} {args.party_id}")
    return 0


def party_declare_handler(args: argparse.Namespace) -> int:
    if not args.brand and not args.company_prefix:
        raise CommandError("give at least one --brand NAME or --company-prefix PREFIX")
    ledger = runtime.open_ledger(settings_from(args))
    try:
        new = ledger.declare_authority(args.party_id, args.brand, args.company_prefix)
    except DomainError as e:
        raise CommandError(f"{e.rule}: {e.reason}") from None
    except ValueError as e:
        raise CommandError(str(e)) from None
    print(f"{args.party_id} declared: {', '.join(new) if new else 'nothing new'}")
    return 0
