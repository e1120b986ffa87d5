"""The ``evidock`` command: argument parsing, one module per command group, exit codes.

``main`` builds the top parser and turns failures into messages, with the exit code from the
one table in ``ingest.errors``. Each command module adds its subcommands (``add_parsers``) and
holds their handlers, which take ``(args, out: Output, settings: Settings)`` and return an exit
code: ``registry`` (init, device, officer), ``evidence`` (ingest, items), ``custody`` (custody,
verify-proof, checkpoint), ``audit`` (verify, audit), ``demo``, ``dock`` (dock, status),
``worker`` (worker, jobs), ``cases`` with ``links`` and ``overdue`` (case, excuse, overdue),
``catalog`` with ``catalog_compare`` (catalog migrate-to). ``common`` is what they share: the
parser class (``--json`` after any subcommand, examples in every ``--help``), ``parse_time``
and problem lines. Handlers open the context, call into the layers below and print; they
decide nothing that a daemon also needs. May import everything below it.
"""
