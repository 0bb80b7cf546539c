"""SQLAlchemy storage: tables, engine, repositories, unit of work and migrations."""


class SchemaOutOfDate(RuntimeError):
    """The database schema is older than this server; run `textlens-server migrate`.

    Defined here, with no import, so that the command line can catch it cheaply."""
