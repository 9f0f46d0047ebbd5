"""Fetch from the FDA and NCBI APIs and parse what comes back into records."""
