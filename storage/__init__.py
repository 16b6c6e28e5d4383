"""Persistence: SQLAlchemy models, the Database, repositories and Alembic migrations."""
