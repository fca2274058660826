"""The custody ledger: the event-sourced application that stores items and parties."""
