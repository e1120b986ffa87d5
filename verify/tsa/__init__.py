"""RFC 3161 timestamps of checkpoints (issue 15): a time-stamping authority vouches that a
signed checkpoint note existed at a time.

``rfc3161`` is the one adapter of ``rfc3161_client`` (request building, ASN.1, CMS
verification against the pinned certificate chain); ``submit`` asks the TSA in ``[trust]
tsa_url`` for a token of every checkpoint after it commits, in order. May import
``verify.log`` and ``storage``; ``verify.audit`` imports this, never the reverse.
"""
