"""Data the product ships: compiled lexicons and trained weights (see README.md here)."""
