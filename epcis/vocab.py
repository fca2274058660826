"""The CBV values the gateway accepts, and which custody kind each business step becomes.

GS1's schema lets any URI stand for a business step, disposition or transaction type
outside the CBV namespaces; Assay accepts only the values listed here, so a step it cannot
place in an item's custody (``teleporting``, or a standard one such as ``killing``) is
refused with the document. docs/epcis.md has the same tables for integrators.
"""

from __future__ import annotations

from domain.custody import Kind

#: The Web vocabulary form (``https://ref.gs1.org/cbv/BizStep-shipping``) of CBV values.
CBV_WEB = "https://ref.gs1.org/cbv/"
_WEB_PREFIXES = {
    "bizStep": "BizStep-",
    "disposition": "Disp-",
    "bizTransaction": "BTT-",
    "sourceDest": "SDT-",
    "errorReason": "ER-",
}

#: Every CBV 2.0 business step (GS1 Core Business Vocabulary 2.0, §7.1 BizStep).
CBV_BIZ_STEPS = frozenset(
    {
        "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
        "creating_class_instance", "cycle_counting", "decommissioning", "departing",
        "destroying", "disassembling", "dispensing", "encoding", "entering_exiting",
        "holding", "inspecting", "installing", "killing", "loading", "other", "packing",
        "picking", "receiving", "removing", "repackaging", "repairing", "replacing",
        "reserving", "retail_selling", "sampling", "sensor_reporting", "shipping",
        "staging_outbound", "stock_taking", "stocking", "storing", "transporting",
        "unloading", "unpacking", "void_shipping",
    }
)  # fmt: skip
#: Business steps that change or confirm custody, one to one: every kind named after a
#: CBV step (domain/kinds.py is the one home of kinds, so a new CBV kind is captured and
#: exported without a change here), and CBV's ``destroying`` as a decommissioning.
STEP_KINDS: dict[str, Kind] = {
    **{kind.value: kind for kind in Kind if kind.value in CBV_BIZ_STEPS},
    "destroying": Kind.DECOMMISSIONING,
}
#: Steps in which the holder handles the item at its own site: Assay's ``observing``.
OBSERVING_STEPS = frozenset(
    {
        "arriving",
        "cycle_counting",
        "departing",
        "entering_exiting",
        "holding",
        "loading",
        "packing",
        "picking",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "unloading",
        "unpacking",
    }
)
#: Standard CBV steps that are refused, and why (the reason goes into the problem detail).
REFUSED_STEPS: dict[str, str] = {
    step: "it does not move or confirm custody of a finished item"
    for step in sorted(CBV_BIZ_STEPS - STEP_KINDS.keys() - OBSERVING_STEPS)
}

DISPOSITIONS = frozenset(
    {
        "active", "available", "completeness_inferred", "completeness_verified", "conformant",
        "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
        "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_class",
        "mismatch_instance", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
        "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
        "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
        "unavailable", "unknown",
    }
)  # fmt: skip
BIZ_TRANSACTION_TYPES = frozenset(
    {"bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma",
     "testprd", "testres", "upevt"}
)  # fmt: skip
SOURCE_DEST_TYPES = frozenset({"owning_party", "possessing_party", "location"})
ERROR_REASONS = frozenset({"did_not_occur", "incorrect_data"})

#: A receiving of an item back from its buyer (CBV has no ``returning`` step).
RETURN_DISPOSITION = "returned"


def bare(value: str, vocabulary: str) -> str:
    """A CBV value in its bare form (``shipping``), whichever form the document used."""
    prefix = CBV_WEB + _WEB_PREFIXES[vocabulary]
    return value[len(prefix) :] if value.startswith(prefix) else value


def step_kind(step: str, disposition: str | None) -> Kind | None:
    """The custody kind of an accepted business step (``None``: not accepted)."""
    if step == "receiving" and disposition == RETURN_DISPOSITION:
        return Kind.RETURNING
    if step in OBSERVING_STEPS:
        return Kind.OBSERVING
    return STEP_KINDS.get(step)


def refusal_reason(step: str) -> str:
    return REFUSED_STEPS.get(step, "it is not a CBV business step Assay accepts")
