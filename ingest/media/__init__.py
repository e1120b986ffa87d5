"""Media tool adapters: exiftool and ffprobe (probe), ffmpeg (transcode), container sniffing.

Every tool runs on a stored copy, with fixed arguments, a demuxer chosen from the sniffed
container and a timeout. ``simcam`` makes simulated camera media for the demo and the tests
through the same adapters. Imports nothing of ingest but errors.
"""
