"""What reading input strictly costs, against the lenient reading it replaced, in one run.

    uv run python bench/bench_strict_input.py [--repeat 2000]

* JSON: ``strictjson.loads`` of a 7-event bundle (happy-path vector) vs ``json.loads``;
* Avro: ``registry.decode`` of an envelope and of its body (canonical check included) vs
  fastavro's ``schemaless_reader`` alone, as the decoder read them before;
* Ed25519: ``streams.ed25519.verify`` (rules, then libsodium) vs PyNaCl's ``verify``;
* verify: ``verify_bundle(read_bundle(bytes))`` vs ``verify_bundle(json.loads(bytes))``.

Each line prints microseconds per call, best of three runs, and the ratio to its baseline.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastavro import schemaless_reader
from nacl.signing import VerifyKey

from anchoring import strictjson
from anchoring.checkpoint import Verifier
from anchoring.leaves import read_envelope
from anchoring.verify import read_bundle, verify_bundle
from bench.timing import best_seconds
from streams import ed25519
from streams.avro import HEADER_LEN, default_registry

VECTOR = Path(__file__).resolve().parents[1] / "tests/anchoring/vectors/bundles/happy-path.json"


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    return best_seconds(lambda: [fn() for _ in range(repeat)]) / repeat * 1e6


def measure(repeat: int) -> list[tuple[str, float, str, float]]:
    vector = json.loads(VECTOR.read_text())
    data = json.dumps(vector["bundle"]).encode()
    key = Verifier.from_text(vector["platform_key"])
    registry = default_registry()
    envelope_bytes = base64.b64decode(vector["bundle"]["events"][1]["payload_b64"])
    envelope = read_envelope(envelope_bytes)
    body_writer = registry.by_fingerprint[envelope.body[2:HEADER_LEN]]
    envelope_writer = registry.by_fingerprint[envelope_bytes[2:HEADER_LEN]]
    device = vector["bundle"]["devices"][f"{envelope.party_id}/{envelope.device_id}"]
    public = bytes.fromhex(device["public_key"])
    nacl_key = VerifyKey(public)
    rules_key = ed25519.PublicKey(public)

    def fastavro(writer: object, message: bytes) -> object:
        return schemaless_reader(io.BytesIO(message[HEADER_LEN:]), writer.schema, None)  # type: ignore[attr-defined]

    pairs: list[tuple[str, Callable[[], object], str, Callable[[], object]]] = [
        (
            "strict JSON, 7-event bundle",
            lambda: strictjson.loads(data),
            "json.loads",
            lambda: json.loads(data),
        ),
        (
            "decode envelope (canonical)",
            lambda: registry.decode("signed_envelope", envelope_bytes),
            "fastavro alone",
            lambda: fastavro(envelope_writer, envelope_bytes),
        ),
        (
            "decode body (canonical)",
            lambda: registry.decode("custody_event", envelope.body),
            "fastavro alone",
            lambda: fastavro(body_writer, envelope.body),
        ),
        (
            "Ed25519 verify, rules first",
            lambda: rules_key.verify(envelope.body, envelope.signature),
            "PyNaCl verify",
            lambda: nacl_key.verify(envelope.body, envelope.signature),
        ),
        (
            "read_bundle + verify_bundle",
            lambda: verify_bundle(read_bundle(data), key),
            "json.loads + verify_bundle",
            lambda: verify_bundle(json.loads(data), key),
        ),
    ]
    out = []
    for name, fn, baseline_name, baseline in pairs:
        count = max(1, repeat // 20) if "verify_bundle" in name else repeat
        out.append((name, per_call_us(fn, count), baseline_name, per_call_us(baseline, count)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    for name, value, baseline_name, baseline in measure(args.repeat):
        print(
            f"{name:30} {value:9.1f} µs   {baseline_name:28} {baseline:9.1f} µs   "
            f"ratio {value / baseline:5.2f}"
        )


if __name__ == "__main__":
    main()
