"""``assay witness init | serve | evidence``: run a C2SP tlog-witness (docs/witnesses.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from anchoring.checkpoint import Verifier
from anchoring.errors import KeyFileError
from anchoring.keyfiles import read_signer_key, write_signer_key
from assay.cli import CommandError
from assay.commands import add_metrics_flag, settings_from

KEY_FILE = "witness.key"
DEFAULT_PORT = 8380


def register(sub: Any) -> None:
    witness = sub.add_parser("witness", help="cosign the checkpoints of logs (C2SP tlog-witness)")
    wsub = witness.add_subparsers(dest="witness_command", required=True)

    init = wsub.add_parser("init", help="create the witness key (0600) and print its vkey")
    init.add_argument("--name", required=True, help="key name, e.g. witness.example.com/w1")
    init.add_argument("--out", type=Path, help=f"key file (default <data dir>/witness/{KEY_FILE})")
    init.add_argument(
        "--exist-ok", action="store_true", help="if the key file exists, print its vkey instead"
    )
    init.add_argument(
        "--vkey-out",
        type=Path,
        metavar="FILE",
        help="also write the vkey to FILE (public; for the platform and buyers' policies)",
    )
    init.set_defaults(handler=init_handler)

    policy = wsub.add_parser(
        "policy", help="write a witness policy (C2SP tlog-policy) for the anchor and buyers"
    )
    policy.add_argument("--log", required=True, metavar="VKEY", help="the log's vkey, or @FILE")
    policy.add_argument(
        "--witness",
        action="append",
        default=[],
        required=True,
        metavar="NAME=VKEY",
        help="a witness and its cosignature vkey, or @FILE holding it (repeat)",
    )
    policy.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="where the log submits to that witness (optional; repeat)",
    )
    policy.add_argument(
        "--quorum", required=True, help="how many witnesses must cosign: K, any or all"
    )
    policy.add_argument("--out", type=Path, help="policy file (default: stdout)")
    policy.set_defaults(handler=policy_handler)

    serve = wsub.add_parser("serve", help="serve POST /add-checkpoint for the given logs")
    serve.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="ORIGIN=VKEY",
        help="a log to witness and its Ed25519 vkey, or @FILE holding it (repeat; a bare "
        "VKEY uses its key name as the origin)",
    )
    serve.add_argument("--key", type=Path, help=f"key file (default <data dir>/witness/{KEY_FILE})")
    serve.add_argument("--state", type=Path, help="state directory (default <data dir>/witness)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument("--log-level", default="warning", choices=("error", "warning", "info"))
    add_metrics_flag(serve)
    serve.set_defaults(handler=serve_handler)

    evidence = wsub.add_parser("evidence", help="print the conflicting checkpoints kept")
    evidence.add_argument("--state", type=Path, help="state directory (default <data dir>/witness)")
    evidence.add_argument("--json", action="store_true")
    evidence.set_defaults(handler=evidence_handler)


def init_handler(args: argparse.Namespace) -> int:
    from witness.cosignature import WitnessSigner

    path = args.out or settings_from(args).witness_dir / KEY_FILE
    if args.exist_ok and path.exists():
        existing = WitnessSigner.from_signer(read_signer_key(path))
        if existing.name != args.name:
            raise CommandError(f"{path} holds the key of {existing.name}, not {args.name}")
        print(f"# witness key exists: {path}", file=sys.stderr)
        vkey = existing.verifier().to_text()
    else:
        signer = WitnessSigner.generate(args.name)
        write_signer_key(path, signer.key_file_signer())
        print(f"# witness key created: {path}", file=sys.stderr)
        vkey = signer.verifier().to_text()
    if args.vkey_out:
        args.vkey_out.parent.mkdir(parents=True, exist_ok=True)
        args.vkey_out.write_text(vkey + "\n", encoding="utf-8")
    print(vkey)
    return 0


def policy_handler(args: argparse.Namespace) -> int:
    from witness.errors import PolicyError
    from witness.policy import parse_policy

    names: list[str] = []
    lines = ["# Witness policy (C2SP tlog-policy): written by `assay witness policy`"]
    lines.append(f"log {_vkey_arg(args.log, '--log')}")
    urls = dict(_pair(entry, "--url") for entry in args.url)
    for entry in args.witness:
        name, vkey = _pair(entry, "--witness")
        names.append(name)
        url = urls.pop(name, "")
        lines.append(f"witness {name} {_vkey_arg(vkey, '--witness')} {url}".rstrip())
    if urls:
        raise CommandError(f"--url for no --witness: {', '.join(sorted(urls))}")
    lines += [f"group witnesses {args.quorum} {' '.join(names)}", "quorum witnesses"]
    text = "\n".join(lines) + "\n"
    try:
        parse_policy(text)
    except PolicyError as e:
        raise CommandError(f"not a valid policy: {e}") from None
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"# wrote {args.out}: {len(names)} witness(es), quorum {args.quorum}",
              file=sys.stderr)  # fmt: skip
    else:
        sys.stdout.write(text)
    return 0


def _pair(entry: str, option: str) -> tuple[str, str]:
    name, sep, value = entry.partition("=")
    if not sep or not name or not value:
        raise CommandError(f"{option} {entry!r}: expected NAME=VALUE")
    return name, value


def _vkey_arg(value: str, option: str) -> str:
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise CommandError(f"{option} {value!r}: cannot read it: {e}") from None


def serve_handler(args: argparse.Namespace) -> int:
    from starlette.applications import Starlette
    from starlette.types import ASGIApp

    from assay.service import Service
    from witness.core import Witness
    from witness.cosignature import WitnessSigner
    from witness.protocol import ADD_CHECKPOINT_PATH
    from witness.server import serve
    from witness.state import StateStore

    settings = settings_from(args)
    logs = parse_logs([*settings.witness_logs.split(), *args.log])
    if not logs:
        raise CommandError("no log to witness: give --log ORIGIN=VKEY (or ASSAY_WITNESS_LOGS)")
    key_path = args.key or settings.witness_dir / KEY_FILE
    if not key_path.exists():
        raise CommandError(f"no witness key at {key_path}: run `assay witness init --name NAME`")
    signer = WitnessSigner.from_signer(read_signer_key(key_path))
    store = StateStore(args.state or settings.witness_dir)
    print(
        f"assay: witness {signer.verifier().to_text()} for {', '.join(sorted(logs))} "
        f"on http://{args.host}:{args.port}/add-checkpoint (state {store.path})",
        file=sys.stderr,
        flush=True,
    )
    try:
        with Service("witness serve", settings, args.metrics_port) as service:
            outcome = service.metrics.watch_witness(ADD_CHECKPOINT_PATH)

            def measured(app: Starlette) -> ASGIApp:
                return service.metrics.wrap_http(app, "witness", app.routes, [outcome])

            serve(Witness(signer, logs, store), args.host, args.port, args.log_level,
                  wrap=measured)  # fmt: skip
            service.summary(f"assay witness serve: stopped serving http://{args.host}:{args.port}/")
    finally:
        store.close()
    return 0


def evidence_handler(args: argparse.Namespace) -> int:
    from witness.state import STATE_FILE, StateStore

    directory = args.state or settings_from(args).witness_dir
    if not (directory / STATE_FILE).exists():
        raise CommandError(f"no witness state in {directory}")
    store = StateStore(directory)
    try:
        found = store.evidence()
    finally:
        store.close()
    if args.json:
        print(json.dumps([e.__dict__ for e in found], indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("no evidence: every checkpoint shown was consistent with the cosigned state")
    for item in found:
        print(
            f"# evidence {item.id}: {item.kind} of {item.origin} at {item.seen_at}: {item.detail}"
        )
        print("## held (cosigned by this witness):")
        sys.stdout.write(item.held_note)
        print("## offered (refused):")
        sys.stdout.write(item.offered_note)
    return 0


def parse_logs(entries: list[str]) -> dict[str, list[Verifier]]:
    """``ORIGIN=VKEY`` (or bare ``VKEY``) entries → trusted keys per origin.

    A VKEY of the form ``@PATH`` is read from that file (e.g. the platform.pub that
    ``assay keys init`` writes).
    """
    logs: dict[str, list[Verifier]] = {}
    for entry in entries:
        origin, sep, vkey = entry.partition("=")
        if not sep or "+" in origin or origin.startswith("@"):
            origin, vkey = "", entry  # a bare vkey: its first '=' is base64 padding
        try:
            if vkey.startswith("@"):
                vkey = Path(vkey[1:]).read_text(encoding="utf-8").strip()
            verifier = Verifier.from_text(vkey)
        except OSError as e:
            raise CommandError(f"--log {entry!r}: cannot read {e.filename}: {e.strerror}") from None
        except (KeyFileError, UnicodeDecodeError) as e:
            raise CommandError(f"--log {entry!r}: {e}") from None
        logs.setdefault(origin or verifier.name, []).append(verifier)
    return logs
