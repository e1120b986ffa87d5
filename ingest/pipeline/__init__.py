"""One docking of one device: walk, verified copy, probe, record, wipe.

``run`` is the per-device flow (``ingest_device``); ``identity`` finds which device it is;
``docking`` opens its session and records what stays on the device; ``acquire`` the one-pass
copy with hash and read-back; ``known`` decides what is already in the catalog (by bytes);
``facts`` turns tool output into recorded facts; ``record`` is the one transaction that
records an item; ``results`` what a docking reports; ``stages`` the labelled steps (the crash
tests' hook); ``space`` and ``writers`` are the checks before a copy and before a wipe;
``wipe`` deletes only what is verified; ``said`` holds a reason in the reader's language and in
the English the custody log keeps. Imports cases and media, never jobs, metrics, dock or cli.
"""
