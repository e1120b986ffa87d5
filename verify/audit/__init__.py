"""Audits: replay of the log, checkpoints and signed heads, fixity of stored objects, S3, proxies,
and the catalog's compliance facts against the projection of the log (``facts``).

``run`` is ``evidock verify``: it gathers every problem from the other modules (each lists
all it finds, with expected and found values) and never repairs anything.
"""
