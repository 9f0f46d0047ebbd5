"""Replay server: recorded real API responses served on 127.0.0.1 for tests and offline crawls (not a product stage).

``server`` (ReplayServer, serve_forever) is the entry point; ``openfda``,
``dailymed`` and ``eutils`` emulate one API each, ``faults`` injects errors.
Only the command line (cli/) and tests import this package.
"""
