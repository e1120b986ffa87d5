"""Witnesses (issue 15): someone outside the dock remembers what the custody log said.

``cosignature`` (C2SP tlog-cosignature/v1) and ``protocol`` (C2SP tlog-witness
add-checkpoint) are pure; ``state`` keeps a witness's key and latest checkpoints on disk,
``server`` is the thin HTTP adapter of ``evidock witness serve``; ``client`` and ``submit``
are the dock's side: every checkpoint goes to the configured witnesses after it commits.
May import ``verify.log`` and ``storage``; ``verify.audit`` imports this, never the reverse.
"""
