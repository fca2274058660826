"""A real witness (witness.core + witness.server, uvicorn) served from a thread of the test
process, for quick tests of the anchor's side; the acceptance tests use processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn

from anchoring.checkpoint import Verifier
from witness.core import Witness
from witness.cosignature import WitnessSigner
from witness.server import create_app
from witness.state import StateStore

from .processes import free_port


class ThreadWitness:
    """One witness: key and state kept across restarts, served on a fixed port."""

    def __init__(self, name: str, home: Path, logs: dict[str, list[Verifier]]) -> None:
        self.name, self.home, self.logs = name, home, logs
        self.signer = WitnessSigner.generate(name)
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._store: StateStore | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def vkey(self) -> str:
        return self.signer.verifier().to_text()

    def start(self) -> ThreadWitness:
        self._store = StateStore(self.home)
        app = create_app(Witness(self.signer, self.logs, self._store))
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert self._thread.is_alive(), f"witness {self.name} did not start"
            assert time.monotonic() < deadline, f"witness {self.name} not up in 20 s"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        if self._store is not None:
            self._store.close()
        self._server = self._thread = self._store = None

    def cosigned_size(self, origin: str) -> int:
        store = StateStore(self.home)
        try:
            state = store.get(origin)
        finally:
            store.close()
        return 0 if state is None else state.size


def policy_text(log_vkey: str, witnesses: dict[str, tuple[str, str]], quorum: int) -> str:
    """A tlog-policy: the log, each ``name: (vkey, url)``, ``quorum`` of them required."""
    lines = [f"log {log_vkey}"]
    lines += [f"witness {name} {vkey} {url}".rstrip() for name, (vkey, url) in witnesses.items()]
    lines += [f"group partners {quorum} {' '.join(witnesses)}", "quorum partners"]
    return "\n".join(lines) + "\n"
