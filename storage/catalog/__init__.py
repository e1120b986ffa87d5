"""The catalog: SQLAlchemy models, engines, migrations, and the operations on its tables.

SQLAlchemy, Alembic and psycopg (the job queue's LISTEN, ``doorbell``) are imported here and
nowhere else; every function hands out frozen records (``storage.records``), never ORM rows.
``session`` is the ``Catalog`` with its read and write transactions; the other modules are
operations on one group of tables (log rows, cases, links, jobs, objects, offload checks,
metrics queries), the job queue's doorbell, and the SQLite-to-PostgreSQL move.
"""
