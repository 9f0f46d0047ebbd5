"""Label-change digest: what changed between FDA label versions, PGx changes first."""
