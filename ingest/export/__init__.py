"""Disclosure and archive packages (issue 17, Art. 27, 30): export requests and approvals
(``requests``), building the BagIt bag of an export or of an archived case (``build``,
``archive``), view copies and the receipt (``receipt``, ``pdf``, ``fonts``). The bag format
and its checker are in ``verify.package``; this layer gathers the items, events and proofs,
runs the media tools and records the custody events.

May import ingest.pipeline, ingest.access, ingest.cases, ingest.media and everything below.
"""
