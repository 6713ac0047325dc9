"""prow's benchmark suite: the same endpoints on prow, a bare ASGI app and its peers.

Run ``python -m bench`` from the repository root for the full measurement (needs valgrind),
or ``python -m bench --quick`` for the seconds-long correctness pass used in CI.
"""
