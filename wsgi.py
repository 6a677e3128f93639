"""WSGI entry point for `flask --app wsgi` and gunicorn (`gunicorn wsgi:app`).

A server (gunicorn, `flask run`) starts only on a set-up instance whose database is at the
schema's head: otherwise it exits with one line and code 4 instead of answering 500 later.
Other commands load the app too, and must work on an instance not set up or behind
(`setup`, `db upgrade`); portal.cli checks the others before they run.
"""

from portal import create_app, instance, schema

# A bad setting, or serving an instance not set up: one line on stderr and exit code 4.
with instance.refusing_to_start():
    app = create_app()
    if instance.started_to_serve():
        instance.require_initialised(app)
        schema.refuse_to_serve_unless_at_head(app)
