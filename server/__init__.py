"""The buyer's side: a read-only HTTP API over the stores and the in-browser verifier page."""
