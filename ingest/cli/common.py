"""What every ``evidock`` command module shares: the parser class, the handler type, times
typed on the command line, and problem lines as the custodian reads them.

``Parser`` is the class of the top parser and of every (sub)subcommand's parser: a usage error
is a ``UsageError`` (exit 2, with a hint), ``--json`` is accepted after any subcommand as well as
before it, a subcommand's one-line help is its description unless it has its own, and the
examples of its epilog are printed as written.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import i18n
from i18n import N_, _
from ingest.config import Settings
from ingest.context import Context, open_context
from ingest.errors import UsageError
from ingest.output import Output
from ingest.pipeline.docking import close_killed_sessions
from verify.problems import Problem

Handler = Callable[[argparse.Namespace, Output, Settings], int]
"""A subcommand: the parsed arguments, where its output goes, the checked settings; returns
the exit code of a result (failures are raised, and ``main`` maps them)."""

JSON_HELP = N_("print one JSON document on stdout")
LANG_HELP = N_("language of what is printed: zh (default) or en; also EVIDOCK_LANG or LANG")


# argparse's own words (usage:, options, its refusals) through our catalog: argparse looks them
# up with the gettext functions it imported at its import, which point at ours from here on
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("options"),
    N_("positional arguments"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("not allowed with argument %s"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("ignored explicit argument %r"),
)
vars(argparse).update(_=_, ngettext=i18n.n_)


if TYPE_CHECKING:
    _SubParsersBase = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time
    _SubParsersBase = argparse._SubParsersAction


class _SubParsers(_SubParsersBase):
    """Subcommands whose one-line help is also their description (unless they have one)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if "help" in kwargs:
            kwargs.setdefault("description", kwargs["help"])
        return super().add_parser(name, **kwargs)


class Parser(argparse.ArgumentParser):
    """Every parser of the evidock command (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _SubParsers)
        # after a subcommand too; SUPPRESS leaves the top parser's --json (default False) as it is
        self.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help=_(JSON_HELP)
        )
        # read before parsing (ingest.cli.main.requested_language); accepted after any command
        self.add_argument(
            "--lang", choices=sorted(i18n.LANGUAGES), default=argparse.SUPPRESS, help=_(LANG_HELP)
        )

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(
            f"{self.prog}: {message}", hint=_("Run '{command} --help'.").format(command=self.prog)
        )


def examples(*lines: str) -> str:
    """The epilog of a subcommand: command lines a reader can copy."""
    return _("examples:") + "\n" + "\n".join(f"  {line}" for line in lines)


def parse_time(text: str, settings: Settings) -> datetime:
    """An ISO time from the command line; without a zone it is read in the configured zone."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError as e:
        raise UsageError(
            _("{text!r} is not a time").format(text=text),
            hint=_("Write times like 2026-11-26T08:30 or with +08:00."),
        ) from e
    if t.tzinfo is None:
        t = t.replace(tzinfo=settings.zone)
    return t.astimezone(UTC)


def problem_lines(out: Output, problems: Sequence[Problem], *, with_item: bool = True) -> None:
    """Each problem as the custodian reads it: code, subject (with its item), expected, found."""
    for p in problems:
        item = _("item #{item}").format(item=p.item)
        named = not with_item or p.item is None or p.subject.startswith(item)
        where = "" if named else f"{item}: "
        out.line(_("PROBLEM [{code}] {where}{subject}").format(
            code=p.code, where=where, subject=p.subject))  # fmt: skip
        out.line("    " + _("expected: {value}").format(value=p.expected))
        out.line("    " + _("found:    {value}").format(value=p.found))


def open_dock(settings: Settings, **kwargs: Any) -> Context:
    """``open_context`` for a command, which also closes this dock's sessions whose process
    was killed, as 'interrupted' (issue 18): every start of the dock tidies after a crash."""
    ctx = open_context(settings, **kwargs)
    try:
        close_killed_sessions(ctx)
    except BaseException:
        ctx.close()
        raise
    return ctx
