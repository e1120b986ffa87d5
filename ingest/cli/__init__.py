"""The ``evidock`` command: argument parsing, one module per command group, exit codes.

``main`` builds the parser and maps errors to exit codes in one place; each other module adds
its subcommands (``add_parsers``) and holds their handlers, which take the parsed arguments, an
``Output`` and the ``Settings``. Handlers open the context, call into the layers below and
print; they decide nothing that a daemon also needs. May import everything below it.
"""
