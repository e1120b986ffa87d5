"""People, roles and access (issue 16, Art. 29 and 31).

``roles`` holds the pure permission rules (who may do what to an item or case of a given
confidentiality); ``passwords`` hashes with stdlib scrypt; ``people`` adds people and grants or
revokes roles with their custody events; ``guard`` checks a person's access to an item or case
and records every access (``viewed``, ``streamed``, ``downloaded``, ``access_denied``). Imports
cases, media and the wiring modules only; the CLI and the console are above it.
"""
