"""GS1 EPCIS 2.0 in and out: the capture gateway and the export of an item's history.

The gateway (``assay epcis serve``) runs on an integrator's side with an enrolled device
key: it validates EPCIS documents against GS1's JSON Schema and Assay's CBV allow-list,
maps each event to one custody event per item, signs them exactly as the scanner SDK does
and publishes them. The export turns an item's stored history back into EPCIS, with
Assay's anchoring in an extension namespace. The contract is docs/epcis.md.
"""
