"""The kind-specific fields of a custody event, read from an EPCIS event (docs/epcis.md).

Commissioning reads the item's identity from the ILMD (``assay:brand``, ``assay:model``,
``assay:serial`` — by default the SGTIN's serial — and ``assay:tagUID`` or the per-item
``assay:tagUIDs``); inspecting its verdict and certificate; shipping its consignee from
the destination list; selling a buyer reference; decommissioning a reason. What is absent
stays absent: the ledger's custody rules refuse an incomplete event, as for any scanner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.custody import Kind, RetirementReason, Verdict
from epcis.fields import EVENT_FIELDS, EXPORT_FIELDS, ILMD_FIELDS, Namespaces
from epcis.identifiers import IdentifierError, canonical_epc, sgtin_serial
from epcis.parties import PartyTable
from epcis.refusal import Refused
from epcis.vocab import bare

#: Destination types in the order a consignee is looked for.
CONSIGNEE_TYPES = ("possessing_party", "owning_party", "location")
VERDICT_OF_DISPOSITION = {"conformant": Verdict.GENUINE, "non_conformant": Verdict.COUNTERFEIT}
REASON_OF_DISPOSITION = {"destroyed": RetirementReason.DESTROYED, "stolen": RetirementReason.STOLEN}


@dataclass(frozen=True)
class Details:
    common: Mapping[str, Any] = field(default_factory=dict)
    per_item: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_item(self, item: str) -> dict[str, Any]:
        return {**self.common, **self.per_item.get(item, {})}


def kind_details(
    kind: Kind,
    event: dict[str, Any],
    ns: Namespaces,
    items: Mapping[str, str | None],
    parties: PartyTable,
) -> Details:
    fields = _event_fields(event, ns)
    common: dict[str, Any] = {}
    if "latitude" in fields or "longitude" in fields:
        common["latitude"] = _number(fields, "latitude")
        common["longitude"] = _number(fields, "longitude")
    if kind is Kind.COMMISSIONING:
        return _commissioning(event, ns, items, common)
    if kind is Kind.INSPECTING:
        verdict = fields.get("verdict") or _disposition_value(event, VERDICT_OF_DISPOSITION)
        if verdict is not None and str(verdict) not in {v.value for v in Verdict}:
            raise Refused(
                "", f"assay:verdict {verdict!r}: not genuine, counterfeit or inconclusive"
            )
        common["verdict"] = verdict
        common["certificate"] = fields.get("certificate") or _transaction(event, "cert")
    elif kind is Kind.SHIPPING:
        common["counterparty"] = _consignee(event, parties)
    elif kind is Kind.RETAIL_SELLING:
        common["buyer_ref"] = fields.get("buyerRef") or _transaction(event, "inv")
    elif kind is Kind.DECOMMISSIONING:
        reason = fields.get("reason") or _disposition_value(event, REASON_OF_DISPOSITION)
        if reason is None and bare(str(event["bizStep"]), "bizStep") == "destroying":
            reason = RetirementReason.DESTROYED
        if reason is not None and str(reason) not in {r.value for r in RetirementReason}:
            raise Refused("", f"assay:reason {reason!r} is not destroyed, lost or stolen")
        common["reason"] = reason
    return Details({k: v for k, v in common.items() if v is not None})


def _event_fields(event: dict[str, Any], ns: Namespaces) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (key, value) in ns.assay_fields(event).items():
        if name not in EVENT_FIELDS:
            known = ", ".join(sorted(EVENT_FIELDS))
            why = "is written by Assay's export" if name in EXPORT_FIELDS else "is not one"
            raise Refused(f"/{key}", f"{key} {why}; the event fields Assay reads are {known}")
        if name in ("latitude", "longitude"):
            out[name] = value
        elif not isinstance(value, str) or not value:
            raise Refused(f"/{key}", f"{key} must be a non-empty string")
        else:
            out[name] = value
    return out


def _number(fields: Mapping[str, Any], name: str) -> float:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(f"/assay:{name}", "assay:latitude and assay:longitude: two numbers")
    return float(value)


def _commissioning(
    event: dict[str, Any], ns: Namespaces, items: Mapping[str, str | None], common: dict[str, Any]
) -> Details:
    ilmd: dict[str, Any] = {}
    for name, (key, value) in ns.assay_fields(event.get("ilmd", {})).items():
        if name not in ILMD_FIELDS:
            known = ", ".join(sorted(ILMD_FIELDS))
            raise Refused(f"/ilmd/{key}", f"{key}: not an ILMD field Assay reads ({known})")
        ilmd[name] = value
    for name in ("brand", "model", "serial", "tagUID"):
        if name in ilmd and (not isinstance(ilmd[name], str) or not ilmd[name]):
            raise Refused(f"/ilmd/assay:{name}", f"assay:{name} must be a non-empty string")
    if len(items) > 1 and ("serial" in ilmd or "tagUID" in ilmd):
        raise Refused("/ilmd", "assay:serial and assay:tagUID name one item: use assay:tagUIDs")
    common.update(brand=ilmd.get("brand"), model=ilmd.get("model"))
    tags = _tag_uids(ilmd)
    per_item = {
        item: {
            "serial": ilmd.get("serial") or sgtin_serial(item),
            "tag_uid": ilmd.get("tagUID") or tags.get(item),
        }
        for item in items
    }
    return Details(
        {k: v for k, v in common.items() if v is not None},
        {item: {k: v for k, v in d.items() if v} for item, d in per_item.items()},
    )


def _tag_uids(ilmd: Mapping[str, Any]) -> dict[str, str]:
    raw = ilmd.get("tagUIDs", {})
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v for v in raw.values()):
        raise Refused("/ilmd/assay:tagUIDs", "assay:tagUIDs maps each item's EPC to its tag uid")
    try:
        return {canonical_epc(str(epc)): uid for epc, uid in raw.items()}
    except IdentifierError as e:
        raise Refused("/ilmd/assay:tagUIDs", str(e)) from None


def _disposition_value(event: dict[str, Any], table: Mapping[str, Any]) -> Any:
    disposition = event.get("disposition")
    return table.get(bare(str(disposition), "disposition")) if disposition else None


def _transaction(event: dict[str, Any], wanted: str) -> str | None:
    for bt in event.get("bizTransactionList", []):
        if bare(str(bt.get("type", "")), "bizTransaction") == wanted:
            return str(bt["bizTransaction"])
    return None


def _consignee(event: dict[str, Any], parties: PartyTable) -> str | None:
    destinations = event.get("destinationList", [])
    if not destinations:
        return None  # the ledger refuses a shipping without consignee (missing_detail)
    for wanted in CONSIGNEE_TYPES:
        for entry in destinations:
            if bare(str(entry["type"]), "sourceDest") == wanted:
                party = parties.party_of(str(entry["destination"]))
                if party is not None:
                    return party
    named = ", ".join(str(d["destination"]) for d in destinations)
    raise Refused(
        "/destinationList",
        f"no destination ({named}) is a party the gateway knows: add it to the parties file",
    )
