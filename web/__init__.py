"""Web pages and HTTP API: ask, review, digest and check in a browser."""
