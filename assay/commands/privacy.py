"""``assay privacy show|erase ITEM``: an item's disclosures of personal data, and their
erasure (docs/privacy.md)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from assay import runtime
from assay.cli import CommandError
from assay.commands import settings_from
from ledger.disclosures import DisclosureStore


def register(sub: Any) -> None:
    privacy = sub.add_parser("privacy", help="personal data kept off the ledger: show, erase")
    psub = privacy.add_subparsers(dest="privacy_command", required=True)
    show = psub.add_parser(
        "show", help="an item's disclosures and whether each opens its commitment"
    )
    show.add_argument("item_id")
    show.set_defaults(handler=show_handler)
    erase = psub.add_parser("erase", help="delete an item's disclosures (proofs stay valid)")
    erase.add_argument("item_id")
    erase.set_defaults(handler=erase_handler)


def _commitments(args: argparse.Namespace) -> dict[tuple[str, str], str]:
    from ledger.application import ItemNotFound

    ledger = runtime.open_ledger(settings_from(args))
    try:
        state = ledger.get_item(args.item_id).state
    except ItemNotFound as e:
        raise CommandError(str(e)) from None
    return {
        (c.event_id, name): digest for c in state.recorded for name, digest in c.commitments.items()
    }


def show_handler(args: argparse.Namespace) -> int:
    commitments = _commitments(args)
    store = DisclosureStore(settings_from(args).disclosures_db)
    try:
        disclosures = store.of_item(args.item_id)
    finally:
        store.close()
    for (event_id, name), digest in sorted(commitments.items()):
        found = disclosures.get((event_id, name))
        line = {"event_id": event_id, "field": name, "commitment": digest,
                "value": found.value if found else None,
                "opens": found.opens(digest) if found else None}  # fmt: skip
        print(json.dumps(line, ensure_ascii=False))
    return 0


def erase_handler(args: argparse.Namespace) -> int:
    _commitments(args)  # the item must exist
    store = DisclosureStore(settings_from(args).disclosures_db)
    try:
        count = store.erase(args.item_id)
    finally:
        store.close()
    print(f"erased {count} disclosure(s) of {args.item_id}; its commitments stay anchored")
    return 0
