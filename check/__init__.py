"""Prescribing check: a patient's PGx profile and an ordered drug give a cited alert."""
