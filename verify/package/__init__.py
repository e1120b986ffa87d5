"""Evidence packages (issue 17): the BagIt bag format and its checker.

``bag`` writes a bag (folder or zip64 zip, streamed); ``verify_bag`` checks one and is
standard-library only, because it is copied verbatim into every bag as ``verify_bag.py``;
``custody`` turns proven custody events into the bag's ``custody/`` files; ``readme`` is the
bag's VERIFY.md. Imports ``verify.log`` and ``verify.proofs`` records only; nothing of ingest.
"""
