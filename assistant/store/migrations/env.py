"""Alembic environment for the question log.

The application migrates its own database at start-up (assistant/store/database.py) and hands
Alembic an open connection inside a transaction that already holds the migration lock; that
connection arrives in `config.attributes["connection"]`. Run from the command line
(`alembic upgrade head` next to alembic.ini) the database is the configured one:
POLICY_ASSISTANT_DATABASE_URL, or the SQLite file in the data directory.
"""

from __future__ import annotations

from alembic import context

from assistant.store.schema import metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from assistant.store.database import Database

    database = Database.configured(migrate=False)
    try:
        with database.locked() as locked:
            _run(locked)
    finally:
        database.close()
