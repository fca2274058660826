"""EPC identifiers: item ids are SGTIN EPC URNs; GS1 Digital Link URIs are converted.

An SGTIN URN is ``urn:epc:id:sgtin:<company prefix>.<indicator + item reference>.<serial>``
(GS1 Tag Data Standard); a Digital Link URI with a GTIN (AI 01) and a serial (AI 21) names
the same item, and one with an SSCC (AI 00) names a logistic unit. Converting needs the
GS1 company prefix's length, which ``biip`` knows from GS1's prefix table.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI

SGTIN_URN = re.compile(
    r"^urn:epc:id:sgtin:(\d{6,12})\.(\d{1,7})\.((?:[!'()*+,\-.0-9:;=A-Z_a-z]|%[0-9A-Fa-f]{2}){1,60})$"
)
SSCC_URN = re.compile(r"^urn:epc:id:sscc:(\d{6,12})\.(\d{5,11})$")
#: Characters a serial may hold as they are; ``"%&/<>?`` are percent-escaped (TDS 2.0).
_SERIAL_PLAIN = set("!'()*+,-.0123456789:;=ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_SERIAL_ESCAPED = {c: f"%{ord(c):02X}" for c in '"%&/<>?'}


class IdentifierError(ValueError):
    """An identifier Assay cannot use where it stands; the message says why."""


def is_sgtin(epc: str) -> bool:
    match = SGTIN_URN.match(epc)
    return match is not None and len(match.group(1)) + len(match.group(2)) == 13


def is_digital_link(uri: str) -> bool:
    return uri.startswith(("https://", "http://"))


def canonical_epc(uri: str) -> str:
    """The EPC URN of an instance identifier: URNs as they are, Digital Link converted.

    Anything else that is a URI is returned unchanged (a container may be any EPC).
    """
    if is_digital_link(uri):
        return digital_link_to_urn(uri)
    return uri


def digital_link_to_urn(uri: str) -> str:
    try:
        link = GS1DigitalLinkURI.parse(uri)
    except ParseError as e:
        raise IdentifierError(f"{uri} is not a GS1 Digital Link URI: {e}") from None
    values = {es.ai.ai: es for es in link.element_strings}
    if "01" in values and "21" in values:
        gtin = values["01"]
        prefix = gtin.gtin.company_prefix.value if gtin.gtin and gtin.gtin.company_prefix else ""
        return sgtin_urn(gtin.value, prefix, values["21"].value, uri)
    if "00" in values:
        sscc = values["00"]
        prefix = sscc.sscc.company_prefix.value if sscc.sscc and sscc.sscc.company_prefix else ""
        return sscc_urn(sscc.value, prefix, uri)
    if "01" in values:
        raise IdentifierError(f"{uri} names a product class (no serial, AI 21), not one item")
    raise IdentifierError(f"{uri} names neither an item (AI 01 + 21) nor a logistic unit (AI 00)")


def sgtin_urn(gtin14: str, company_prefix: str, serial: str, source: str = "") -> str:
    length = len(company_prefix)
    if not company_prefix or gtin14[1 : 1 + length] != company_prefix:
        raise IdentifierError(f"{source or gtin14}: the GTIN's company prefix is not known")
    item_reference = gtin14[0] + gtin14[1 + length : 13]
    return f"urn:epc:id:sgtin:{company_prefix}.{item_reference}.{escape_serial(serial)}"


def sscc_urn(sscc18: str, company_prefix: str, source: str = "") -> str:
    length = len(company_prefix)
    if not company_prefix or sscc18[1 : 1 + length] != company_prefix:
        raise IdentifierError(f"{source or sscc18}: the SSCC's company prefix is not known")
    return f"urn:epc:id:sscc:{company_prefix}.{sscc18[0]}{sscc18[1 + length : 17]}"


def escape_serial(serial: str) -> str:
    out = []
    for c in serial:
        if c in _SERIAL_PLAIN:
            out.append(c)
        elif c in _SERIAL_ESCAPED:
            out.append(_SERIAL_ESCAPED[c])
        else:
            raise IdentifierError(f"serial {serial!r} has {c!r}, not allowed in a GS1 serial")
    return "".join(out)


def sgtin_serial(urn: str) -> str:
    """The serial part of an SGTIN URN, unescaped."""
    match = SGTIN_URN.match(urn)
    if match is None:
        raise IdentifierError(f"{urn} is not an SGTIN EPC URN")
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), match.group(3))


def looks_like_uri(value: str) -> bool:
    """A URI by the schema's own test (``scheme:rest``, no whitespace)."""
    return bool(re.match(r"^\w+:(/?/?)\S+\Z", value)) and bool(urlsplit(value).scheme)
