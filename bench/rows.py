"""The table of ``python -m bench``: each measurement of a run as a row, judged against
its goal (the goals of issues 10, 15 and 19), from the raw numbers alone (so that
``--from-json`` redraws an earlier run's table)."""

from __future__ import annotations

from typing import Any

from bench import bench_headbands
from bench.report import Goal, Row

GOAL_E2E = Goal(">=", 20_000, "≥ 20,000 events/s")
GOAL_RAW = Goal(">=", 0.5, "≥ 0.5× raw consume")
GOAL_FLOOR = Goal(">=", 0.45, "≥ 0.45× verify floor")
GOAL_CHECKPOINT = Goal("<=", 1500, "p99 ≤ 1.5 s")
GOAL_STALENESS = Goal("<=", 5000, "p99 ≤ 5 s")
GOAL_MERKLE = Goal(">=", 1_000_000, "≥ 1M/s")
GOAL_PROVE = Goal("<=", 5.0, "≤ 5 ms")
GOAL_VERIFY = Goal("<=", 1.0, "≤ 1 ms")
GOAL_SEAL_MAP = Goal(">=", 200_000, "≥ 200k events/s")
GOAL_ABSENCE = Goal("<=", 2.0, "≤ 2 ms")
GOAL_MAP_PROOF = Goal("<=", 1536, "≤ 1.5 KB")
GOAL_HISTORY = Goal("<=", 10.0, "p99 ≤ 10 ms over 1M+ events")
GOAL_REBUILD = Goal(">=", 100_000, "≥ 100k events/s")
FLAT_PERCENT = 10.0
GOAL_FLAT = Goal("flat", FLAT_PERCENT, f"flat: ≤ {FLAT_PERCENT:.0f}% growth mid → end")


def rows_from(raw: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    ingest = raw["ingest"]
    consume, produce = ingest["raw_consume_per_s"], ingest["raw_produce_per_s"]
    for workers, p in raw["pipeline"].items():
        w = f"{workers} worker{'s' if workers != '1' else ''}"
        rows += [
            Row(f"e2e_{workers}w", "end to end", f"publish → stored → anchored → projected, {w}",
                p["e2e_per_s"], "events/s", "raw consume", consume, GOAL_E2E,
                note=f"{p['events']:,} events", chart="throughput"),
            Row(f"e2e_{workers}w_ratio_consume", "end to end", f"e2e / raw consume, {w}",
                p["e2e_per_s"] / consume, "×", goal=GOAL_RAW),
            Row(f"e2e_{workers}w_ratio_produce", "end to end", f"e2e / raw produce, {w}",
                p["e2e_per_s"] / produce, "×"),
            Row(f"stored_{workers}w", "end to end", f"publish → stored, {w}", p["stored_per_s"],
                "events/s", "raw consume", consume, chart="throughput"),
        ]  # fmt: skip
    rows += [
        Row("raw_consume", "end to end", "raw kafka-python consume loop", consume, "events/s",
            chart="throughput", note=f"{ingest['events']:,} events"),
        Row("raw_produce", "end to end", "raw kafka-python produce loop (acks=all)", produce,
            "events/s", chart="throughput"),
        Row("ingest_inprocess", "end to end", "ingest in one process (verify + store)",
            ingest["ingest_per_s"], "events/s", "raw consume", consume, chart="throughput"),
        Row("ingest_over_verify_floor", "end to end", "ingest in one process / verify floor",
            ingest["ingest_over_verify_floor"], "×", goal=GOAL_FLOOR,
            note=f"floor {ingest['verify_floor_per_s']:,.0f} Ed25519 verifies/s, same run"),
        Row("ingest_cpu_over_verify_floor", "end to end",
            "ingest in one process / verify floor, by CPU time",
            ingest["ingest_cpu_over_verify_floor"], "×", goal=GOAL_FLOOR,
            note="verify µs / ingest µs per event: unmoved by other load"),
        Row("ingest_cpu", "ingest CPU", "ingest in one process, whole", ingest["ingest_cpu_us"],
            "µs/event", note="thread CPU from the first batch to the last"),
    ]  # fmt: skip
    for stage, micros in ingest["stage_cpu_us"].items():
        rows.append(Row(f"ingest_cpu_{stage}", "ingest CPU", f"stage: {stage}", micros,
                        "µs/event", note="measured alone, same messages"))  # fmt: skip
    for workers, p in raw["pipeline"].items():
        w = f"{workers}w"
        rate = f"{p['latency_offered_per_s']:,.0f} events/s offered"
        for name, reached, goal in (
            ("checkpoint", "signed checkpoint", GOAL_CHECKPOINT),
            ("staleness", "analyst snapshot", GOAL_STALENESS),
        ):
            for q in ("p50", "p99"):
                rows.append(
                    Row(
                        f"{name}_{q}_{w}",
                        "latency",
                        f"event → {reached} {q}, {w}",
                        p[f"{name}_{q}_s"] * 1e3,
                        "ms",
                        goal=goal if q == "p99" else None,
                        note=rate,
                        chart="latency",
                    )
                )
    prove = raw["prove"]
    store = f"{prove['store_events']:,}-event store"
    for what, goal in (("prove", GOAL_PROVE), ("verify", GOAL_VERIFY)):
        for q in ("p50", "p99"):
            rows.append(
                Row(
                    f"{what}_{q}",
                    "latency",
                    f"{what} {q}",
                    prove[f"{what}_{q}_ms"],
                    "ms",
                    goal=goal if q == "p99" else None,
                    chart="latency",
                    note=f"{store}, CPU {prove[f'{what}_{q}_cpu_ms']:.2f} ms"
                    + (
                        f", {prove['verify_p99_over_floor']:.1f}× the Ed25519 floor"
                        if (what, q) == ("verify", "p99")
                        else ""
                    ),
                )
            )
    rows += bench_headbands.rows(raw["headbands"])
    hm = raw["headmap"]
    in_map = f"{hm['items']:,} items in the map"
    rows += [
        Row("seal_with_map", "components", "seal build incl. head map updates",
            hm["seal_with_map_events_per_s"], "events/s", "without the map",
            hm["seal_without_map_events_per_s"], GOAL_SEAL_MAP, chart="throughput",
            note=in_map),
        Row("seal_with_map_stored", "components",
            "seal build incl. head map updates, changed map entries stored in SQLite",
            hm["seal_with_map_stored_events_per_s"], "events/s", "without the map",
            hm["seal_without_map_events_per_s"],
            note=f"{in_map}, {hm['seal_with_map_stored_cpu_events_per_s']:,.0f} events/s of "
                 f"CPU time; map rebuilt from its entries in {hm['map_load_s']:.1f} s"),
        Row("map_prove_p99", "latency", "map proof p99 (part of prove)",
            hm["map_prove_p99_ms"], "ms", "from the map in memory",
            hm["map_prove_memory_p99_ms"], GOAL_PROVE, chart="latency",
            note=f"{in_map}, CPU {hm['map_prove_cpu_p99_ms']:.2f} ms"),
        Row("map_verify_p99", "latency", "map proof check p99 (part of verify)",
            hm["map_verify_p99_ms"], "ms", "root recomputed alone", hm["map_root_p99_ms"],
            chart="latency",
            note=f"{in_map}, version 5's base64url; version 4's hex "
                 f"{hm['map_verify_hex_p99_ms']:.2f} ms in turns"),
        Row("absence_p99", "latency", "absence proof, read and check, p99",
            hm["absence_p99_ms"], "ms", "membership, read and check",
            hm["membership_p99_ms"], GOAL_ABSENCE, chart="latency",
            note=f"{in_map}, CPU {hm['absence_cpu_p99_ms']:.2f} ms"),
        Row("map_proof_bytes", "components", "map proof size (JSON, bundle v5), max",
            hm["map_proof_max_bytes"], "bytes", "raw bytes", hm["map_proof_raw_max_bytes"],
            GOAL_MAP_PROOF,
            note=f"median {hm['map_proof_median_bytes']:.0f} B, p99 "
                 f"{hm['map_proof_p99_bytes']:.0f} B; in hex (v4) max "
                 f"{hm['map_proof_hex_max_bytes']:.0f} B"),
    ]  # fmt: skip
    proj = raw["projections"]
    for q in ("p50", "p99"):
        rows.append(
            Row(
                f"history_{q}",
                "latency",
                f"item history query {q}",
                proj[f"history_{q}_ms"],
                "ms",
                goal=GOAL_HISTORY if q == "p99" else None,
                chart="latency",
                note=f"over {proj['custody_events']:,} events",
            )
        )
    comp, merkle, seal = raw["components"], raw["merkle"], raw["seal_build"]
    rows += [
        Row("avro_decode", "components", "Avro decode, envelope + body", comp["decode_per_s"],
            "events/s", chart="throughput"),
        Row("signature_verify", "components", "Ed25519 signature verify", comp["verify_per_s"],
            "events/s", chart="throughput"),
    ]  # fmt: skip
    for batch, rate in comp["save_per_s"].items():
        rows.append(
            Row(
                f"save_batch_{batch}",
                "components",
                f"aggregate save, batch {batch}",
                rate,
                "events/s",
                chart="throughput",
            )
        )
    rows += [
        Row("merkle_build", "components", "Merkle build incl. leaf hashing",
            merkle["build_with_leaf_hashing_per_s"], "leaves/s", "merkletools pre-hashed",
            merkle["merkletools_prehashed_per_s"], GOAL_MERKLE, chart="throughput",
            note=f"{merkle['leaves']:,} leaves"),
        Row("merkle_tree_only", "components", "Merkle tree on pre-hashed leaves",
            merkle["tree_only_per_s"], "leaves/s", "merkletools pre-hashed",
            merkle["merkletools_prehashed_per_s"], chart="throughput"),
        Row("merkletools", "components", "merkletools tree on pre-hashed leaves",
            merkle["merkletools_prehashed_per_s"], "leaves/s", chart="throughput"),
        Row("seal_build", "components", "seal build: record + leaf + tree",
            seal["build_events_per_s"], "events/s", "merkletools pre-hashed",
            seal["merkletools_prehashed_events_per_s"], GOAL_MERKLE, chart="throughput",
            note="blocks of 1,000"),
        Row("projection_rows", "components", "DuckDB projection, incremental",
            proj["incremental_per_s"], "rows/s", chart="throughput",
            note=f"{proj['notifications']:,} notifications"),
        Row("projection_rebuild", "components", "projection rebuild", proj["rebuild_per_s"],
            "events/s", goal=GOAL_REBUILD, chart="throughput"),
    ]  # fmt: skip
    for workers, p in raw["pipeline"].items():
        for name, r in p["rss"].items():
            growth = 100 * (r["end_mb"] - r["mid_mb"]) / r["mid_mb"] if r["mid_mb"] else 0.0
            rows.append(
                Row(
                    f"rss_{workers}w_{name}_end",
                    "memory",
                    f"{workers}w {name} RSS at end",
                    r["end_mb"],
                    "MB",
                    "start",
                    r["start_mb"],
                    GOAL_FLAT,
                    met=growth <= FLAT_PERCENT,
                    note=f"peak {r['peak_mb']:.0f} MB, mid → end {growth:+.1f}%",
                )
            )
    return [row.judge() for row in rows]
