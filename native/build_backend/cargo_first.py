"""Build backend of assay-headmap: maturin's, once cargo is known to be on PATH.

Without cargo, maturin would fetch a Rust toolchain of its own (through ``puccinialin``)
and build with that, unasked; Assay names the missing prerequisite instead and stops.
"""

from __future__ import annotations

import os
import shutil

if shutil.which("cargo") is None:
    raise RuntimeError(
        "assay-headmap (native/, the sealer's head map) is built with Rust's cargo, which is "
        "not on PATH: install Rust with rustup (https://rustup.rs), then run `uv sync` again"
    )
os.environ["MATURIN_NO_INSTALL_RUST"] = "1"

from maturin import *  # noqa: F403 (the PEP 517 hooks)
