"""``verify_bundle`` on hostile input: only typed failures, and the optional origin pin."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from anchoring.verify import BundleError, verify_bundle

VECTORS = Path(__file__).parent / "vectors" / "bundles"
HAPPY = json.loads((VECTORS / "happy-path.json").read_text())
FLAG = json.loads((VECTORS / "flag-with-evidence.json").read_text())
KEY = Verifier.from_text(HAPPY["platform_key"])

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True),
    st.text(max_size=80),
    st.text(st.characters(categories=["Cs", "Nd", "Zs"]), max_size=8),  # surrogates, digits
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += paths(item, (*prefix, index))
    return out


HAPPY_PATHS = paths(HAPPY["bundle"])[1:]
FLAG_PATHS = paths(FLAG["bundle"])[1:]


def replaced(bundle: dict[str, Any], where: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    node = out
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_replaced_value_fails_as_a_verification_error(data: st.DataObject) -> None:
    source = data.draw(st.sampled_from([HAPPY, FLAG]))
    where = data.draw(st.sampled_from(HAPPY_PATHS if source is HAPPY else FLAG_PATHS))
    value = data.draw(JUNK)
    bundle = replaced(source["bundle"], where, value)
    try:
        verify_bundle(bundle, KEY)
    except VerificationError as e:
        assert e.step
    except Exception as e:  # pragma: no cover - the point of the test
        pytest.fail(f"{where} = {value!r} raised {type(e).__name__}: {e}")


def deleted(bundle: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    node = out
    for step in where[:-1]:
        node = node[step]
    del node[where[-1]]
    return out


def informational(where: tuple[Any, ...]) -> bool:
    """Fields docs/proof-bundle.md §3 says a v1 verifier does not read: the checkpoint key
    hint, and the party names and roles of the (unauthenticated) device listing."""
    if where[0] == "checkpoint_key":
        return True
    return len(where) == 3 and where[0] == "devices" and where[2] in ("party_name", "role")


@pytest.mark.parametrize("source", [HAPPY, FLAG], ids=["happy-path", "flag-with-evidence"])
def test_every_deleted_field_fails_unless_the_spec_says_it_proves_nothing(
    source: dict[str, Any],
) -> None:
    """All of the bundle's fields, one at a time (254 in happy-path, 100 in the other)."""
    full = verify_bundle(source["bundle"], KEY)
    last_event = ("events", len(source["bundle"]["events"]) - 1)
    ignored = []
    for where in paths(source["bundle"])[1:]:
        try:
            result = verify_bundle(deleted(source["bundle"], where), KEY)
        except VerificationError as e:
            assert e.step and not informational(where), f"deleting {where} failed: {e}"
            continue
        if informational(where):
            assert result == full, f"deleting {where} changed what is proven"
            ignored.append(where)
        elif where == last_event:
            # A v1 bundle proves a prefix of the history: without its last event it proves
            # the shorter one (format v2 proves completeness and refuses this).
            assert (result.events, result.summaries) == (full.events - 1, full.summaries[:-1])
        else:
            pytest.fail(f"deleting {where} still verifies")
    devices = len(source["bundle"]["devices"])
    assert len(ignored) == 3 + 2 * devices  # checkpoint_key and its two members; names, roles


def test_informational_fields_are_not_read_whatever_they_hold() -> None:
    bundle = copy.deepcopy(HAPPY["bundle"])
    bundle["checkpoint_key"] = {"name": "another.example/log", "key_id": "00000000", "x": [1]}
    for listing in bundle["devices"].values():
        listing.update(party_name="Official Authenticator", role=7)
    assert verify_bundle(bundle, KEY) == verify_bundle(HAPPY["bundle"], KEY)


def test_not_a_mapping_is_a_format_error() -> None:
    with pytest.raises(BundleError) as e:
        verify_bundle([], KEY)  # type: ignore[arg-type]
    assert e.value.step == "bundle_format"


def test_the_origin_can_be_pinned() -> None:
    result = verify_bundle(HAPPY["bundle"], KEY, origin="assay.example/custody-log")
    assert result.origin == "assay.example/custody-log" and result.events == 7
    with pytest.raises(BundleError) as e:
        verify_bundle(HAPPY["bundle"], KEY, origin="another.example/log")
    assert e.value.step == "checkpoint_origin"


def test_failures_name_the_event() -> None:
    bundle = copy.deepcopy(HAPPY["bundle"])
    bundle["events"][2]["summary"]["kind"] = "receiving"
    with pytest.raises(BundleError) as e:
        verify_bundle(bundle, KEY)
    assert (e.value.step, e.value.version) == ("summary_mismatch", 3)
    assert str(e.value).startswith("event v3: ")


def test_non_canonical_base64_is_refused() -> None:
    bundle = copy.deepcopy(HAPPY["bundle"])
    payload = bundle["events"][0]["payload_b64"]
    bundle["events"][0]["payload_b64"] = payload[:-4] + "\n" + payload[-4:]
    with pytest.raises(BundleError) as e:
        verify_bundle(bundle, KEY)
    assert e.value.step == "bundle_format"


def test_a_header_with_non_ascii_digits_is_a_format_error() -> None:
    bundle = copy.deepcopy(HAPPY["bundle"])
    bundle["head"]["sealed_at"] = "\u0662" + bundle["head"]["sealed_at"][1:]
    with pytest.raises(BundleError) as e:
        verify_bundle(bundle, KEY)
    assert e.value.step == "header_format"


def test_an_out_of_range_timestamp_is_an_unreadable_body() -> None:
    import io

    from fastavro import parse_schema, schemaless_writer

    from anchoring.leaves import read_signed
    from streams.avro import default_registry
    from streams.envelope import ENVELOPE_SCHEMA, EVENT_SCHEMA
    from streams.errors import SerializationError

    registry = default_registry()
    latest = registry.get(EVENT_SCHEMA)
    raw_longs = parse_schema(
        {
            "type": "record",
            "name": "dev.assay.custody.CustodyEvent",
            "fields": [
                {**f, "type": "long"} if f["name"] == "occurred_at" else f
                for f in latest.schema["fields"]
            ],
        }
    )
    body = io.BytesIO()
    body.write(b"\xc3\x01" + latest.fingerprint)
    record = {
        "event_id": "e",
        "item_id": "i",
        "kind": "observing",
        "party_id": "p",
        "device_id": "d",
        "location": "l",
        "occurred_at": 2**62,
        "attributes": {},
    }
    schemaless_writer(body, raw_longs, record)
    envelope = registry.encode(
        ENVELOPE_SCHEMA,
        {"party_id": "p", "device_id": "d", "body": body.getvalue(), "signature": bytes(64)},
    )
    with pytest.raises(SerializationError):
        read_signed(envelope)


def test_a_non_canonical_envelope_is_unreadable() -> None:
    import base64

    from anchoring.leaves import read_envelope
    from streams.envelope import open_envelope
    from streams.errors import SerializationError

    message = base64.b64decode(HAPPY["bundle"]["events"][0]["payload_b64"])
    assert message[-66:-64] == b"\x80\x01"  # the signature's length, 64, as a varint
    padded = message[:-66] + b"\x80\x81\x00" + message[-64:]  # 64 with a redundant group
    assert read_envelope(message) == open_envelope(message)
    # Avro readers (fastavro) read the padded spelling; every reader here refuses it.
    for read in (open_envelope, read_envelope):
        with pytest.raises(SerializationError):
            read(padded)


def test_summaries_compare_as_json_values() -> None:
    from anchoring.verify import same_json

    assert same_json({"a": 1, "b": {"c": "x"}}, {"b": {"c": "x"}, "a": 1.0})
    assert not same_json({"a": True}, {"a": 1})
    assert not same_json({"a": None}, {"a": 0})
    assert not same_json({"a": "1"}, {"a": 1})
    assert not same_json({"a": 1}, {"a": 1, "b": 2})


def test_an_item_id_with_a_lone_surrogate_is_a_format_error() -> None:
    bundle = copy.deepcopy(HAPPY["bundle"])
    bundle["item_id"] = json.loads('"urn:\\ud800"')
    with pytest.raises(BundleError) as e:
        verify_bundle(bundle, KEY)
    assert e.value.step == "bundle_format"


def test_every_integer_written_as_a_float_or_a_boolean_fails() -> None:
    """`1.0` and `true` are not integers anywhere: the version, heights, indexes, headers."""
    integers = [w for w in HAPPY_PATHS if type(_at(HAPPY["bundle"], w)) is int]
    assert ("version",) in integers and len(integers) > 50
    for where in integers:
        value = _at(HAPPY["bundle"], where)
        for spelling in (float(value), bool(value)):
            with pytest.raises(BundleError) as e:
                verify_bundle(replaced(HAPPY["bundle"], where, spelling), KEY)
            assert e.value.step in ("bundle_format", "header_format"), (where, spelling)


def _at(value: Any, where: tuple[Any, ...]) -> Any:
    for step in where:
        value = value[step]
    return value
