"""The evidence console (issue 16): a web application on the catalog and the store.

Server-rendered pages for custodians, reviewers, approvers, supervisors, auditors and officers:
search, an item with its proxy, custody timeline (each event's inclusion proof checked) and
derivation chain, a case with its coverage and deadlines, the overdue and verify reports, and
the access log. People sign in with a password (and a TOTP code when they enrolled one);
sessions live in the catalog and an admin can revoke them; every view, stream, download and
refusal is a custody event (``ingest.access.guard``).

Flask, Werkzeug and Jinja2 are imported only in this package (``app`` and the page modules),
pyotp only in ``auth``, cheroot only in ``server``. Pure parts: ``security`` (tokens, CSP,
lockout), ``text`` (the language of a request: Chinese unless the reader asks for English;
the words themselves are in the templates and the gettext catalog), ``timeline`` (proofs).
It may import everything below it in ingest.
"""
