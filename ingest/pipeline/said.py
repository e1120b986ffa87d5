"""A reason said twice: to the person in their language, to the custody log in English.

Why a file stays on a device (no room on the store, not media, not wiped) is shown to whoever
docked it (the bay, the receipt, ``evidock ingest``) and recorded in the file's
'acquisition_failed' custody event. The event says the same whatever language the dock
speaks: it keeps the English source text that programs and auditors read, while the person
reads the catalog's translation (``i18n``, issue 20). ``both`` renders a message once in
each: the message is written as everywhere else, with ``_()`` or ``n_()`` inside the function
it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import i18n


@dataclass(frozen=True, slots=True, kw_only=True)
class Said:
    text: str  # in the reader's language
    logged: str  # in English (the source), for the custody log


def both(render: Callable[[], str]) -> Said:
    """What ``render`` says in the reader's language, and in English."""
    text = render()
    with i18n.speaking(i18n.SOURCE):
        logged = render()
    return Said(text=text, logged=logged)


def as_said(reason: str | Said) -> Said:
    """A reason that another layer gave as one text (a device's listing): shown as it is,
    logged in its English when it carries one (``i18n.Text``)."""
    return reason if isinstance(reason, Said) else Said(text=reason, logged=i18n.english(reason))
