"""Replay server: recorded real API responses served on 127.0.0.1 for tests and offline crawls (not a product stage)."""
