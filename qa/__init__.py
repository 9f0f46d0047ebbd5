"""Cited question answering (issue 5)."""
