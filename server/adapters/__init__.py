"""Adapters: SQLAlchemy storage, migrations, caches and rate-limit stores."""
