"""In-browser verify time of a proof bundle: server/static/verifier.js in headless Chromium.

    uv run python bench/bench_browser_verify.py [--events 10 20 50] [--runs 30]

Builds a store with the pipeline's ledger and anchor (no Kafka: reports go straight to
the ledger, as ingest hands them over), proves one item with N events spread over
several blocks, opens the verifier page from disk in Debian's Chromium (a fresh profile
per browser, so the first run is cold) and times ``AssayVerifier.verifyText`` with
``performance.now()``: parsing the pinned key and the bundle, every check, the verdict.

Columns, milliseconds:

* ``cold``    the first verification in a freshly started browser (JIT, WebCrypto warm-up:
              the v2 bundle's; the others run after it);
* ``median``  median of the following runs on the same page;
* ``best``    fastest run.

Each item is proven twice from the same chain (version 2 headers): as a bundle of format
version 2 (complete history: the head map proof, docs/proof-bundle.md §10) and, as the
baseline, in the version 1 layout (inclusion only); ``v2/v1`` is the ratio of the medians.
The last row is the absence bundle of an id the ledger never recorded.

The goal (issue 7) is at most 20 ms for a 10-event bundle.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from anchoring.prove import Prover
from assay import runtime
from assay.settings import Settings
from domain.custody import CustodyEvent, Role
from ledger.application import Report
from streams.envelope import seal
from streams.keys import DeviceKey
from tests.ledger.helpers import brand_authority
from tests.server.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import custody

PAGE = Path(__file__).resolve().parents[1] / "server" / "static" / "verifier.html"
PER_BLOCK = 5  # the item's events per block, so bundles carry accumulator proofs
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def scan(n: int, kind: str, party: str, item: str, **details: object) -> CustodyEvent:
    return custody(
        n,
        kind,
        party,
        item,
        location=f"urn:epc:id:sgln:{party}.0",
        occurred_at=T0 + timedelta(minutes=n),
        **details,
    )


def bundle_with(events: int, data_dir: Path) -> tuple[str, str, str, str]:
    """(v2 bundle JSON, v1 bundle JSON, absence bundle JSON, platform key text) for an
    item with ``events`` events."""
    settings = Settings(data_dir=data_dir)
    ledger = runtime.open_ledger(settings)
    ledger.register_party("brand", "Maison Aurel", Role.BRAND, *brand_authority("brand"))
    key = DeviceKey.generate("brand", "brand-d1")
    ledger.enrol_device("brand", "brand-d1", key.public_key_hex, at=T0 - timedelta(days=1))
    item = "urn:epc:id:sgtin:0614141.107346.1"
    story = [scan(1, "commissioning", "brand", item, tag_uid="T", brand="B", model="M", serial="1")]
    story += [scan(n, "observing", "brand", item) for n in range(2, events + 1)]
    chain = runtime.open_chain(settings)
    anchor = runtime.make_anchor(settings, ledger, chain)
    for start in range(0, events, PER_BLOCK):
        for event in story[start : start + PER_BLOCK]:
            ledger.process([Report(event, seal(event, key))], None)
        anchor.catch_up()
    prover = Prover(ledger, chain, settings.checkpoint_path.read_text())
    platform = runtime.platform_verifier_path(settings).read_text().strip()
    v2, v1 = json.dumps(prover.prove(item, 2)), json.dumps(prover.prove(item, 1))
    return v2, v1, json.dumps(prover.prove_absence("urn:epc:id:sgtin:0614141.107346.999")), platform


# The bundles take turns, run after run, so that a busy machine slows them alike.
TIMES = """async ([texts, key, runs]) => {
    const out = texts.map(() => []);
    for (let i = 0; i < runs; i++) {
        for (const [n, text] of texts.entries()) {
            const o = await AssayVerifier.verifyText(text, key, "");
            if (!o.ok) throw new Error(`${o.step}: ${o.message}`);
            out[n].push(o.ms);
        }
    }
    return out;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(f"{'bundle':>12} {'bytes':>8} {'cold':>7} {'median':>7} {'best':>7} {'v2/v1':>6}  (ms)")
    with sync_playwright() as p:
        for events in args.events:
            with tempfile.TemporaryDirectory() as tmp:
                text, baseline, absence, key = bundle_with(events, Path(tmp) / "data")
                context = p.chromium.launch_persistent_context(
                    str(Path(tmp) / "profile"),
                    executable_path=CHROMIUM,
                    headless=True,
                    args=CHROMIUM_ARGS,
                )
                page = context.new_page()
                page.goto(PAGE.as_uri())
                page.wait_for_load_state("load")
                texts = [text, baseline, absence]
                times, base, absent = page.evaluate(TIMES, [texts, key, args.runs])
                context.close()
            median, base_median = statistics.median(times[1:]), statistics.median(base[1:])
            ratio = median / base_median
            for name, t, n, r in ((f"{events} v2", times, text, f"{ratio:6.2f}"),
                                  (f"{events} v1", base, baseline, ""),
                                  ("absence", absent, absence, "")):  # fmt: skip
                med = statistics.median(t[1:])
                print(f"{name:>12} {len(n):>8} {t[0]:>7.1f} {med:>7.1f} {min(t):>7.1f} {r:>6}")


if __name__ == "__main__":
    main()
