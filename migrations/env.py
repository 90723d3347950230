"""Alembic environment: runs on the connection handed over by ``knowledge_base.db.migrate``."""

from alembic import context
from sqlalchemy import create_engine

from knowledge_base.db import Base
import web.cases  # noqa: F401  (registers the case and feedback tables on Base)

target_metadata = Base.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # invoked from the alembic command line
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as connection:
            _run_on(connection)
    else:
        _run_on(connection)


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
