"""The custody log's pure core: RFC 6962 Merkle tree, canonical events, signed notes, Ed25519.

No I/O here: functions over bytes and frozen records, shared by the writer (``verify.custody``),
the audits and offline checks. ``rfc8785`` and ``cryptography`` are imported only here.
The messages of its errors are translated (``i18n``, issue 20); nothing translated ever enters
what is hashed or signed: event contents, canonical JSON, checkpoint and note text.
"""
