"""Entities, normalisation and relations into cited triples (issue 4)."""
