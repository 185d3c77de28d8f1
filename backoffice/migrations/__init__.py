"""The back office's Alembic migrations: the history of its database schema, one revision per
change, from the schema as first released (versions/0001_first_release.py) to today's models
(backoffice/db.py). Alembic is configured in code (backoffice/schema.py builds the Config, env.py
runs the migrations on the connection it is given): there is no alembic.ini.
"""
