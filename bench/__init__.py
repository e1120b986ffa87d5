"""evidock benchmarks: ratios against a baseline measured in the same run (style rule 12).

Run ``python -m bench [ingest|photos|log] [--quick]``. Nothing here gates on wall-clock time;
the only asserts are sanity checks on what was measured (right hashes, right counts).
"""
