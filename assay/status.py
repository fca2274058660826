"""``assay status``: the whole deployment at a glance, each part judged healthy or not.

Read-only: it asks the broker (with short timeouts, never starting the local one), reads
the event store, the chain, the checkpoint file, the analyst snapshot and the anchor's
outbox. Thresholds are settings (``health_max_*``). Exit codes: :data:`HEALTHY` 0,
:data:`UNHEALTHY` 1, :data:`BROKER_DOWN` 3 (the broker is unreachable, so lag and
ownership are unknown).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay import runtime
from assay.settings import Settings
from assay.status_kafka import (
    Check,
    admin_client,
    check_broker,
    check_ingest,
    check_rejected,
    connection_of,
    plain_consumer,
    try_kafka,
)

HEALTHY, UNHEALTHY, BROKER_DOWN = 0, 1, 3


@dataclass
class Status:
    checked_at: str
    checks: list[Check] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(c.healthy is not False for c in self.checks)

    @property
    def exit_code(self) -> int:
        broker = next((c for c in self.checks if c.name == "broker"), None)
        if broker is not None and not broker.healthy:
            return BROKER_DOWN
        return HEALTHY if self.healthy else UNHEALTHY

    def as_json(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "exit_code": self.exit_code,
            "checked_at": self.checked_at,
            "checks": {c.name: c.as_json() for c in self.checks},
        }


def _stores_exist(settings: Settings) -> bool:
    return bool(settings.database_url) or settings.ledger_db.exists()


def _age(when: float | None) -> float | None:
    return None if when is None else max(0.0, time.time() - when)


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.1f} s ago"
    return f"{seconds / 60:.0f} min ago" if seconds < 7200 else f"{seconds / 3600:.1f} h ago"


def gather(settings: Settings) -> Status:
    status = Status(datetime.now(UTC).isoformat(timespec="seconds"))
    ledger = runtime.open_ledger(settings) if _stores_exist(settings) else None

    def recorded(partition: int) -> int | None:
        if ledger is None:
            return None
        from streams.ingest import tracking_name

        return ledger.position(tracking_name(settings.events_topic, partition))

    status.checks += _kafka_checks(settings, recorded)
    ledger_head = (ledger.recorder.max_notification_id() or 0) if ledger is not None else 0
    chain_head = 0
    if ledger is not None and (settings.database_url or settings.chain_db.exists()):
        check, chain_head = check_anchor(settings, ledger_head)
        status.checks.append(check)
    else:
        status.checks.append(Check("anchor", ledger_head == 0, "no chain yet", {"height": None}))
    status.checks.append(check_projection(settings, ledger_head, chain_head))
    status.checks.append(check_outbox(settings))
    from assay.status_witnesses import check_witnesses

    witnesses = check_witnesses(settings)
    if witnesses is not None:
        status.checks.append(witnesses)
    return status


def _kafka_checks(settings: Settings, recorded: Callable[[int], int | None]) -> list[Check]:
    connection, where = connection_of(settings)
    if connection is None:
        return [check_broker(None, "local broker", where)]
    with contextlib.ExitStack() as stack:
        admin = try_kafka(lambda: stack.enter_context(admin_client(connection)))
        if isinstance(admin, Exception):
            return [check_broker(None, where, f"{type(admin).__name__}: {admin}")]
        checks = [try_kafka(check_broker, admin, where)]
        if isinstance(checks[0], Exception):
            return [check_broker(None, where, f"{type(checks[0]).__name__}: {checks[0]}")]
        consumer = try_kafka(lambda: stack.enter_context(plain_consumer(connection)))
        for name, check in (
            ("ingest", lambda: check_ingest(settings, admin, consumer, recorded)),
            ("rejected", lambda: check_rejected(settings, consumer)),
        ):
            result = consumer if isinstance(consumer, Exception) else try_kafka(check)
            if isinstance(result, Exception):
                result = Check(name, False, f"not readable: {type(result).__name__}: {result}", {})
            checks.append(result)
        return checks


def check_anchor(settings: Settings, ledger_head: int) -> tuple[Check, int]:
    chain = runtime.open_chain(settings)
    head = chain.head()
    unsealed = max(0, ledger_head - chain.position())
    checkpoint = _checkpoint(settings.checkpoint_path)
    age = None
    if head is not None:
        age = _age(datetime.fromisoformat(head.sealed_at.replace("Z", "+00:00")).timestamp())
    healthy = unsealed == 0 or (age is not None and age <= settings.health_max_anchor_delay)
    block = f"block {head.height} sealed {_ago(age)}" if head else "no block yet"
    summary = (
        f"{block}; checkpoint of {checkpoint['size']} block(s) written "
        f"{_ago(checkpoint['age_seconds'])}; {unsealed} notification(s) not sealed yet"
    )
    if not healthy:
        summary += f" — anchor behind for over {settings.health_max_anchor_delay:g} s"
    return Check("anchor", healthy, summary, {
        "height": head.height if head else None, "last_block_age_seconds": age,
        "unsealed_notifications": unsealed, "checkpoint": checkpoint,
    }), chain.recorder.max_notification_id() or 0  # fmt: skip


def _checkpoint(path: Path) -> dict[str, Any]:
    try:
        text, mtime = path.read_text(), path.stat().st_mtime
    except OSError:
        return {"size": 0, "age_seconds": None}
    lines = text.split("\n", 2)
    size = int(lines[1]) if len(lines) > 2 and lines[1].isdigit() else 0
    return {"size": size, "age_seconds": _age(mtime)}


def check_projection(settings: Settings, ledger_head: int, chain_head: int) -> Check:
    from projections.analyst import analyst_path, snapshot_taken_at

    path = analyst_path(settings)
    if not path.exists():  # what duckdb would refuse, without importing it
        return Check("projection", ledger_head == 0, "no analyst snapshot yet", {"snapshot": None})
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except (duckdb.Error, OSError):
        healthy = ledger_head == 0
        return Check("projection", healthy, "no analyst snapshot yet", {"snapshot": None})
    try:
        positions = dict(con.execute("SELECT name, position FROM projection_tracking").fetchall())
        taken = snapshot_taken_at(con)
    finally:
        con.close()
    age = _age(taken.timestamp() if taken else None)
    behind = max(0, ledger_head - int(positions.get("ledger", 0))) + max(
        0, chain_head - int(positions.get("chain", 0))
    )
    healthy = behind == 0 or (age is not None and age <= settings.health_max_snapshot_delay)
    summary = f"snapshot taken {_ago(age)}; {behind} notification(s) behind the stores"
    if not healthy:
        summary += f" — older than {settings.health_max_snapshot_delay:g} s while behind"
    return Check("projection", healthy, summary, {
        "snapshot_age_seconds": age, "behind": behind,
        "ledger_position": positions.get("ledger"), "chain_position": positions.get("chain"),
    })  # fmt: skip


def check_outbox(settings: Settings) -> Check:
    from streams.outbox import Outbox, OutboxError

    path = settings.checkpoint_outbox_path
    if not path.exists():
        return Check("outbox", None, "no checkpoint outbox", {"pending": 0})
    try:
        with Outbox(path) as outbox:
            state = outbox.state()
    except OutboxError as e:
        return Check("outbox", False, str(e), {})
    waiting = f"{state.pending} waiting, oldest written {_ago(state.age())}"
    return Check("outbox", None,
                 f"checkpoints: {waiting if state.pending else 'none waiting'}",
                 {"pending": state.pending, "failed": state.failed,
                  "oldest_age_seconds": state.age()})  # fmt: skip
