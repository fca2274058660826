"""A random but plausible workload: most reports follow the item's state, some break rules.

Reports are signed by the parties of ``tests.support`` and fed to the ledger in small
batches; the ledger accepts, flags or refuses them exactly as it would from Kafka. The mix
covers every kind, recalls, returns, retirements, scans in transit, scans at other
locations, clones, unknown items, impossible travel and events declared in error; with
``owners``, sales open claims and owners claim, transfer, report, withdraw and consign.
"""

from __future__ import annotations

import random
from datetime import timedelta

from anchoring.checkpoint import Signer
from anchoring.sealer import Anchor, SealPolicy
from domain.custody import CustodyEvent, Kind
from domain.items import Item, Status
from domain.ownership import OwnerReport
from domain.privacy import claim_commitment, new_claim_code
from ledger.application import ItemNotFound, Report
from streams.envelope import seal
from streams.owner_envelope import new_statement, seal_statement
from streams.owner_keys import OwnerKey
from tests.projections.support import Store
from tests.support import PARTIES, T0

LOCATIONS = ("paris", "lyon", "tokyo", "osaka-bay", "milan")
FIXES = {"paris": (48.85, 2.35), "tokyo": (35.68, 139.69), "milan": (45.46, 9.19)}


class Workload:
    def __init__(self, store: Store, seed: int, items: int = 12, *, owners: bool = False) -> None:
        self.store = store
        self.owners = owners
        #: Claim codes by the commitment a sale or transfer made, and owner keys by public key.
        self.codes: dict[str, str] = {}
        self.owner_keys: dict[str, OwnerKey] = {}
        self.rng = random.Random(seed)
        self.items = [f"urn:item:{seed}-{i}" for i in range(items)] + ["urn:item:ghost"]
        self.minutes = 0
        self.events = 0

    def run(self, reports: int, *, max_batch: int = 5, anchor_every: int = 4) -> None:
        batches = 0
        while reports > 0:
            size = min(reports, self.rng.randint(1, max_batch))
            self.batch(size)
            reports -= size
            batches += 1
            if batches % anchor_every == 0:
                self.anchor()
        self.anchor()

    def anchor(self) -> None:
        # Small blocks, so that a history spans many of them.
        policy = SealPolicy(max_events=7)
        Anchor(self.store.ledger, self.store.chain, Signer.generate("t"), origin="t",
               policy=policy).catch_up()  # fmt: skip

    def batch(self, size: int) -> None:
        reports: list[Report | OwnerReport] = []
        for _ in range(size):
            statement = self.next_statement() if self.owners and self.rng.random() < 0.15 else None
            if statement is not None:
                reports.append(statement)
                continue
            event = self.next_event()
            reports.append(Report(event, seal(event, self.store.keys[event.party_id])))
        self.store.ledger.process(reports, None)

    def next_event(self) -> CustodyEvent:
        rng = self.rng
        item_id = rng.choice(self.items)
        self.minutes += rng.choice((1, 5, 30, 240))
        self.events += 1
        try:
            item: Item | None = self.store.ledger.get_item(item_id)
        except ItemNotFound:
            item = None
        details: dict[str, object]
        if item_id == "urn:item:ghost":  # never commissioned: sighted, then conflicting scans
            kind, party, details = Kind.OBSERVING, rng.choice(list(PARTIES)), {}
        elif rng.random() < 0.8:
            kind, party, details = self.plausible(item)
        else:
            kind, party, details = self.anything()
        location = rng.choice(LOCATIONS)
        if kind is Kind.COMMISSIONING:
            details = {"tag_uid": f"tag-{rng.randint(0, 15)}", "brand": "B", "model": "M",
                       "serial": item_id[-2:]}  # fmt: skip
        if location in FIXES and rng.random() < 0.3:
            details["latitude"], details["longitude"] = FIXES[location]
        occurred_at = T0 + timedelta(minutes=self.minutes)
        last = item.state.last_fix if item is not None else None
        if kind is Kind.OBSERVING and last is not None and rng.random() < 0.3:
            # The same scanner again a minute after its last fix, on another continent.
            far = "tokyo" if (last.latitude, last.longitude) != FIXES["tokyo"] else "paris"
            details["latitude"], details["longitude"] = FIXES[far]
            occurred_at = last.at + timedelta(minutes=1)
        return CustodyEvent(
            event_id=f"ev-{self.events}",
            item_id=item_id,
            kind=kind,
            party_id=party,
            device_id=f"{party}-d1",
            location=location,
            occurred_at=occurred_at,
            **details,  # type: ignore[arg-type]
        )

    def next_statement(self) -> OwnerReport | None:
        """What an item's owner (or its buyer, holding the claim code) says next, if any;
        some break the rules (a consignment of an item reported missing) and are refused."""
        rng = self.rng
        candidates = [item for item in map(self.item, self.items[:-1]) if item is not None and (
            item.state.ownership.owner_key or item.state.ownership.open_claim in self.codes
        )]  # fmt: skip
        if not candidates:
            return None
        item = rng.choice(candidates)
        item_id = item.id
        o = item.state.ownership
        fields: dict[str, object] = {}
        if o.owner_key is None:
            code = self.codes.get(o.open_claim or "")
            if code is None:
                return None
            key = OwnerKey.generate()
            self.owner_keys[key.public_key_hex] = key
            kind, fields = "claim", {"claim_code": code}
        else:
            key = self.owner_keys[o.owner_key]
            if o.missing is not None:
                kind = rng.choice(["withdraw_report", "withdraw_report", "consign"])
            else:
                kind = rng.choice(["transfer", "report_missing", "consign"])
            if kind == "transfer":
                fields = self.claim()
            elif kind == "report_missing":
                fields = {"reason": rng.choice(["stolen", "lost"])}
            elif kind == "consign":
                fields = {"consignee": rng.choice(list(PARTIES))}
        statement = new_statement(key, kind, item_id, item.version, **fields)
        return OwnerReport(statement, seal_statement(statement, key))

    def item(self, item_id: str) -> Item | None:
        try:
            return self.store.ledger.get_item(item_id)
        except ItemNotFound:
            return None

    def claim(self) -> dict[str, object]:
        """A new claim commitment, its code remembered for the buyer's claim."""
        code = new_claim_code()
        salt, digest = claim_commitment(code)
        self.codes[digest] = code
        return {"claim_salt": salt, "claim_digest": digest}

    def anything(self) -> tuple[Kind, str, dict[str, object]]:
        kind = self.rng.choice(list(Kind))
        return kind, self.rng.choice(list(PARTIES)), self.details(kind)

    def plausible(self, item: Item | None) -> tuple[Kind, str, dict[str, object]]:
        rng = self.rng
        if item is None or item.state.status is Status.UNREGISTERED:
            return Kind.COMMISSIONING, "brand", {}
        s = item.state
        if s.standing and rng.random() < 0.08:  # an earlier event declared in error
            declared = rng.choice(s.standing)
            party = declared.party_id if rng.random() < 0.8 else rng.choice(list(PARTIES))
            reason = rng.choice(["did_not_occur", "incorrect_data", None])
            return Kind.ERROR_DECLARATION, party, {
                "declared_event_id": declared.event_id, "error_reason": reason,
            }  # fmt: skip
        if s.status is Status.IN_TRANSIT:
            if rng.random() < 0.8:
                return Kind.RECEIVING, str(s.consignee), {}
            if rng.random() < 0.5 and s.shipper is not None:  # a consignment has no shipper
                return Kind.VOID_SHIPPING, str(s.shipper), {}
            return Kind.OBSERVING, str(s.shipper or s.consignee), {}
        if s.status is Status.SOLD:
            if rng.random() < (0.5 if self.owners else 0.2):  # an owner's item returned, too
                return Kind.RETURNING, str(s.sold_by), {}
            return Kind.OBSERVING, rng.choice(list(PARTIES)), {}
        if s.status is Status.RETIRED:
            return Kind.OBSERVING, rng.choice(list(PARTIES)), {}
        holder = str(s.holder)
        if s.verdict is None and rng.random() < 0.7:
            return Kind.INSPECTING, "lab", self.details(Kind.INSPECTING)
        owners_store = self.owners and holder in ("ginza", "osaka") and s.verdict is not None
        if owners_store and rng.random() < 0.5:  # sold often, so owners have items to speak of
            return Kind.RETAIL_SELLING, holder, self.details(Kind.RETAIL_SELLING)
        if rng.random() < 0.05:
            kind = Kind.DECOMMISSIONING
        else:
            kind = rng.choice(
                [Kind.SHIPPING] * 3 + [Kind.OBSERVING, Kind.RETAIL_SELLING, Kind.REPAIRING]
            )
        return kind, holder, self.details(kind, holder)

    def details(self, kind: Kind, holder: str = "") -> dict[str, object]:
        rng = self.rng
        if kind is Kind.SHIPPING:
            return {"counterparty": rng.choice([p for p in PARTIES if p != holder])}
        if kind is Kind.INSPECTING:
            verdict = rng.choice(["genuine", "genuine", "genuine", "inconclusive", "counterfeit"])
            return {"verdict": verdict, "certificate": f"cert-{rng.randint(0, 99)}"}
        if kind is Kind.RETAIL_SELLING:
            buyer: dict[str, object] = {"buyer_ref": f"buyer-{rng.randint(0, 99)}"}
            return {**buyer, **self.claim()} if self.owners else buyer
        if kind is Kind.DECOMMISSIONING:
            return {"reason": rng.choice(["destroyed", "lost", "stolen"])}
        return {}
