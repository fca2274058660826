"""In-browser verify time of a proof bundle: server/static/verifier.js in headless Chromium.

    uv run python bench/bench_browser_verify.py [--events 10 20 50] [--runs 30]

Builds a store with the pipeline's ledger and anchor (no Kafka: reports go straight to
the ledger, as ingest hands them over), proves one item with N events spread over
several blocks, opens the verifier page from disk in Debian's Chromium (a fresh profile
per browser, so the first run is cold) and times ``AssayVerifier.verifyText`` with
``performance.now()``: parsing the pinned key and the bundle, every check, the verdict.

Columns, milliseconds:

* ``cold``    the first verification in a freshly started browser (JIT, WebCrypto warm-up);
* ``median``  median of the following runs on the same page;
* ``best``    fastest run.

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


def bundle_with(events: int, data_dir: Path) -> tuple[str, str]:
    """(bundle JSON, platform key text) for an item with ``events`` events."""
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
    return json.dumps(prover.prove(item)), platform


TIMES = """async ([text, key, runs]) => {
    const out = [];
    for (let i = 0; i < runs; i++) {
        const o = await AssayVerifier.verifyText(text, key, "");
        if (!o.ok) throw new Error(`${o.step}: ${o.message}`);
        out.push(o.ms);
    }
    return out;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(f"{'events':>7} {'bytes':>8} {'cold':>7} {'median':>7} {'best':>7}  (ms)")
    with sync_playwright() as p:
        for events in args.events:
            with tempfile.TemporaryDirectory() as tmp:
                text, key = bundle_with(events, Path(tmp) / "data")
                context = p.chromium.launch_persistent_context(
                    str(Path(tmp) / "profile"),
                    executable_path=CHROMIUM,
                    headless=True,
                    args=CHROMIUM_ARGS,
                )
                page = context.new_page()
                page.goto(PAGE.as_uri())
                page.wait_for_load_state("load")
                times = page.evaluate(TIMES, [text, key, args.runs])
                context.close()
            median = statistics.median(times[1:])
            print(f"{events:>7} {len(text):>8} {times[0]:>7.1f} {median:>7.1f} {min(times):>7.1f}")


if __name__ == "__main__":
    main()
