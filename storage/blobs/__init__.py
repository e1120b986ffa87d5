"""Blob stores: the local content-addressed store, the S3 store, hashing and durable writes.

``localstore`` files bytes under their SHA-256 (temp file, fsync, rename, fsync dir:
``durable``); ``s3store`` is the only boto3 importer, ``s3objects``/``s3config`` its pure
records and checks. Imports nothing of the catalog.
"""
