"""Job workers: the queue consumer, review proxies (transcode jobs) and S3 uploads.

Workers claim jobs from the catalog under a lease; ``proxies`` turns a transcode job into
derived media recorded as custody, ``uploads`` brings S3 in line with an item. Imports metrics,
pipeline, cases and media; used by the dock and the CLI.
"""
