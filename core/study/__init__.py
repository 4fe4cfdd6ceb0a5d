"""Study sessions, the append-only hours ledger, the heartbeat endpoint and the player."""
