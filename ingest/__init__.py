"""evidock ingest: everything above the subsystems, from the command line down to the media tools.

Folders follow one docking, top to bottom, and import only downwards (import-linter checks it):
``cli`` (commands) > ``dock`` (the daemon and its bays) > ``jobs`` (workers: proxies, uploads) >
``metrics`` (Prometheus) > ``pipeline`` (one device: walk, copy, probe, record, wipe) > ``cases``
(links, the 24-hour rule, compliance) > ``media`` (exiftool, ffprobe, ffmpeg adapters). The
modules at this level (config, context, errors, output, outage, times) are wiring and shared
vocabulary: they import none of the folders.
"""
