"""SQLAlchemy storage: tables, engine, repositories, unit of work and migrations."""
