"""Event → cosigned checkpoint with three witnesses, beside the same pipeline without them.

    uv run python bench/bench_witnessing.py [--rate 2000] [--seconds 15]

Two configurations in one run, each in a fresh data directory with fresh topics on one
broker: ``assay ingest`` and ``assay anchor`` as deployed (product defaults, SQLite), and

* ``baseline``   no witnesses: the anchor publishes each checkpoint as it signs it;
* ``witnessed``  three ``assay witness serve`` processes and a 2-of-3 policy
                 (``ASSAY_WITNESS_POLICY``): the anchor publishes each checkpoint once
                 cosigned.

After a warm-up, signed events are published at a steady ``--rate``; per event, the time
from its publication to the first checkpoint on ``custody.checkpoints`` covering its block
(the broker's timestamp of that message); in the witnessed run only checkpoints carrying
the quorum (two cosignatures or more) count. Prints p50 / p99 of both and their ratio,
judged against the goal p99 ≤ 2 s, and, to tell the pipeline's share from the
witnesses', each run's event → block sealed and block sealed → checkpoint published.
The witness's own add-checkpoint requests/s are measured by ``bench/bench_witness.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaConsumer

from anchoring.chain import Chain
from bench.bench_ingest import broker, sealed_messages
from bench.pipeline_watch import group_is_stable, max_notification, percentile, wait_until
from ledger.config import store_env
from streams.producer import Producer
from streams.topics import custody_topics, ensure_topics
from tests.support import make_world
from tests.witness.inprocess import policy_text
from tests.witness.processes import WitnessProcess

P99_GOAL_S = 2.0
PARTITIONS = 6
ORIGIN = "assay.example/custody-log"


def checkpoints(bootstrap: str, topic: str) -> list[tuple[float, int, int]]:
    """(broker time in s, tree size, cosignature lines) of each checkpoint on the topic."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=2000)  # fmt: skip
    out = []
    try:
        for record in consumer:
            note = record.value.decode()
            lines = note.split("\n")
            signatures = note.rpartition("\n\n")[2].count("\n")
            out.append((record.timestamp / 1000, int(lines[1]), signatures - 1))
    finally:
        consumer.close()
    return sorted(out)


@contextlib.contextmanager
def pipeline(env: dict[str, str], logs: Path) -> Iterator[None]:
    procs = []
    for name in ("ingest", "anchor"):
        out = (logs / f"{name}.log").open("wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "assay", name], env=env,
                                      stdout=out, stderr=out))  # fmt: skip
    try:
        yield
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run(bootstrap: str, root: Path, witnessed: bool, rate: float, seconds: float) -> list[float]:
    """Seconds from publication to a (quorum-)cosigned checkpoint, per steady event."""
    data = root / ("witnessed" if witnessed else "baseline")
    logs = data / "logs"
    logs.mkdir(parents=True)
    world = make_world(data)
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "ASSAY_KAFKA_BOOTSTRAP": bootstrap,
        "ASSAY_DATA_DIR": str(data),
        "ASSAY_DATABASE_URL": "",
        "ASSAY_EVENTS_TOPIC": f"bench.w.events.{suffix}",
        "ASSAY_REJECTED_TOPIC": f"bench.w.rejected.{suffix}",
        "ASSAY_CHECKPOINTS_TOPIC": f"bench.w.cp.{suffix}",
        "ASSAY_CONSUMER_GROUP": f"bench-w-{suffix}",
        "ASSAY_PARTITIONS": str(PARTITIONS),
    }
    topic, cp_topic = env["ASSAY_EVENTS_TOPIC"], env["ASSAY_CHECKPOINTS_TOPIC"]
    ensure_topics(bootstrap, custody_topics(topic, env["ASSAY_REJECTED_TOPIC"], cp_topic,
                                            PARTITIONS))  # fmt: skip
    subprocess.run([sys.executable, "-m", "assay", "keys", "init"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    witnesses: list[WitnessProcess] = []
    if witnessed:
        pub = data / "keys" / "platform.pub"
        witnesses = [
            WitnessProcess(
                f"p{n}.example/witness", data / f"witness-{n}", [f"{ORIGIN}=@{pub}"]
            ).start()
            for n in (1, 2, 3)
        ]
        keys = {f"p{n}": (w.vkey, w.url) for n, w in enumerate(witnesses, 1)}
        (data / "policy").write_text(policy_text(pub.read_text().strip(), keys, 2))
        env["ASSAY_WITNESS_POLICY"] = str(data / "policy")
    warmup = sealed_messages(world, 6, "urn:warm:")
    steady = sealed_messages(world, max(1, int(rate * seconds / 7)), "urn:lat:")
    ledger_db = data / "ledger.sqlite"
    chain = Chain(store_env("", data / "chain.sqlite"))
    published: dict[tuple[str, int], float] = {}
    try:
        with pipeline(env, logs), Producer(bootstrap) as producer:
            wait_until(lambda: group_is_stable(bootstrap, env["ASSAY_CONSUMER_GROUP"], 1), 180,
                       "the ingest worker in its group", every=0.5)  # fmt: skip
            before = max_notification(ledger_db)
            for key, value in warmup:
                producer.send(topic, value, key=key)
            producer.flush()
            wait_until(lambda: max_notification(ledger_db) - before >= len(warmup), 120,
                       "the warm-up stored", every=0.1)  # fmt: skip
            stored = max_notification(ledger_db)
            wait_until(lambda: chain.position() >= stored, 120, "the warm-up sealed")
            base = max_notification(ledger_db)
            start = time.time()
            chunk = max(1, int(rate / 50))
            for first in range(0, len(steady), chunk):
                due = start + first / rate
                if (wait := due - time.time()) > 0:
                    time.sleep(wait)
                for i in range(first, min(len(steady), first + chunk)):
                    key, value = steady[i]
                    published[(key.decode(), 1 + i % 7)] = time.time()
                    producer.send(topic, value, key=key)
            producer.flush()
            offered = len(steady) / (time.time() - start)
            wait_until(lambda: max_notification(ledger_db) - base >= len(steady), 300,
                       "every steady event stored", every=0.1)  # fmt: skip
            last = max_notification(ledger_db)
            wait_until(lambda: chain.position() >= last, 300, "every steady event sealed")
            head = chain.head()
            assert head is not None
            wait_until(lambda: any(s > head.height for _, s, _ in checkpoints(bootstrap, cp_topic)),
                       60, "the last checkpoint published", every=0.5)  # fmt: skip
    finally:
        for w in witnesses:
            w.stop()
    quorum = 2 if witnessed else 0
    published_cps = checkpoints(bootstrap, cp_topic)
    found = [(t, size) for t, size, cosigs in published_cps if cosigs >= quorum]
    heights = {key: row.height for key in published if (row := chain.leaf(*key)) is not None}
    sealed = sorted((h.height, _unix(h.sealed_at)) for h in chain.headers(0))
    latencies, to_seal, seal_to_publish = [], [], []
    for event, at in published.items():
        height = heights.get(event)
        if height is None:
            continue
        covering = next((t for t, s in found if s > height), None)
        to_seal.append(max(0.0, sealed[height][1] - at))
        if covering is not None:
            latencies.append(max(0.0, covering - at))
            seal_to_publish.append(max(0.0, covering - sealed[height][1]))
    label = "witnessed (3, 2-of-3)" if witnessed else "baseline (no witness)"
    print(f"{label:<22} offered {offered:7.0f} events/s, {len(latencies)}/{len(published)} "
          f"events timed, {len(found)}/{len(published_cps)} checkpoints counted; "
          f"event → block sealed p50 {percentile(to_seal, 0.5) * 1000:.0f} ms "
          f"p99 {percentile(to_seal, 0.99) * 1000:.0f} ms; block sealed → (cosigned) checkpoint "
          f"published p50 {percentile(seal_to_publish, 0.5) * 1000:.0f} ms "
          f"p99 {percentile(seal_to_publish, 0.99) * 1000:.0f} ms")  # fmt: skip
    return latencies


def _unix(sealed_at: str) -> float:
    return datetime.fromisoformat(sealed_at.replace("Z", "+00:00")).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="steady events/s")
    parser.add_argument("--seconds", type=float, default=15.0, help="steady phase length")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assay-bench-witnessing-") as tmp_name:
        tmp = Path(tmp_name)
        with broker(tmp) as bootstrap:
            base = run(bootstrap, tmp, False, args.rate, args.seconds)
            witnessed = run(bootstrap, tmp, True, args.rate, args.seconds)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(machine: {os.cpu_count()} cores, load average {load})")
    b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
    w50, w99 = percentile(witnessed, 0.5), percentile(witnessed, 0.99)
    print(f"event → signed checkpoint, baseline    p50 {b50 * 1000:6.0f} ms  "
          f"p99 {b99 * 1000:6.0f} ms")  # fmt: skip
    verdict = "meets" if w99 <= P99_GOAL_S else "MISSES"
    print(f"event → cosigned checkpoint, 3 witness p50 {w50 * 1000:6.0f} ms  "
          f"p99 {w99 * 1000:6.0f} ms   p99 ratio to baseline {w99 / b99:.2f}  "
          f"({verdict} the goal of p99 ≤ {P99_GOAL_S:g} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
