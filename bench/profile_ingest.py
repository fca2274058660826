"""Where the ingest's time goes: cProfile of one in-process ingest run, per event.

    uv run python -m bench.profile_ingest [--items 3000] [--postgres postgresql://…/empty_db]

Publishes ``items`` × 7 signed events to a fresh topic (local broker unless
``$ASSAY_KAFKA_BOOTSTRAP``), ingests them under cProfile (timed by the thread's CPU
clock, so other processes on a busy machine do not count) and prints the cumulative CPU
time per event of each stage: Kafka fetch, envelope decoding, signature check, body decoding,
loading aggregates, the domain rules, and saving events + position in one transaction.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.bench_ingest import broker, raw_produce, sealed_messages
from streams.ingest import Ingest
from streams.topics import custody_topics, ensure_topics
from tests.support import make_world

#: (stage, file suffix, function name) — cumulative time of the function is the stage's.
STAGES = [
    ("Kafka poll (incl. joining the group)", "kafka/consumer/group.py", "poll"),
    ("gate: all checks", "streams/gate.py", "verify"),
    ("  envelope decode (Avro header)", "streams/envelope.py", "open_envelope"),
    ("  Ed25519 signature check", "streams/ed25519.py", "verify"),
    ("  body decode (Avro)", "streams/envelope.py", "read_body"),
    ("ledger.process: all", "ledger/application.py", "process"),
    ("  load aggregates (replay)", "ledger/application.py", "load"),
    ("  deciding each report (domain rules)", "domain/reports.py", "decide"),
    ("  save events + position", "ledger/application.py", "_record"),
]


def profile(
    bootstrap: str, tmp: Path, items: int, database_url: str = ""
) -> tuple[int, list[tuple[str, float]]]:
    world = make_world(tmp, database_url)
    suffix = uuid.uuid4().hex[:6]
    topic, rejected = f"prof.events.{suffix}", f"prof.rejected.{suffix}"
    ensure_topics(bootstrap, custody_topics(topic, rejected, f"prof.cp.{suffix}", 6))
    messages = sealed_messages(world, items, "urn:prof:")
    raw_produce(bootstrap, topic, messages)
    ingest = Ingest(world.ledger, bootstrap, topic=topic, rejected_topic=rejected,
                    group=f"prof-{suffix}")  # fmt: skip
    stop = threading.Event()

    def watch() -> None:  # stop as soon as all are in: no idle polling in the profile
        while ingest.stats.accepted < len(messages) and not stop.wait(0.005):
            pass
        stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    stats = ingest.run(stop=stop)
    profiler.disable()
    stop.set()
    assert stats.accepted == len(messages), stats
    table = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows: list[tuple[str, float]] = []
    total = sum(
        c for (file, _, name), (_, _, _, c, _) in table.items()
        if name == "run" and file.endswith("streams/ingest.py")
    )  # fmt: skip
    rows.append(("Ingest.run (everything)", total))
    for label, path, name in STAGES:
        # max, not sum: a method and a function of one name in one file nest.
        found = [cum for (file, _, fn), (_, _, _, cum, _) in table.items()
                 if fn == name and file.endswith(path)]  # fmt: skip
        if not found:  # the code moved: say so rather than print a stage that cost nothing
            raise SystemExit(f"stage {label.strip()!r}: no {path}:{name} ran; update STAGES")
        rows.append((label, max(found)))
    return len(messages), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--postgres", default="", help="an empty database (default: SQLite)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="assay-profile-") as tmp,
        broker(Path(tmp)) as bootstrap,
    ):
        events, rows = profile(bootstrap, Path(tmp), args.items, args.postgres)
    print(f"ingest of {events} signed events under cProfile (CPU µs per event, cumulative;")
    print("the profiler inflates pure-Python code such as kafka-python's record parsing):")
    for label, seconds in rows:
        print(f"  {label:<40} {seconds / events * 1e6:8.1f}")


if __name__ == "__main__":
    main()
