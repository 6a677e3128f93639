"""WSGI entry point for `flask --app wsgi` and gunicorn (`gunicorn wsgi:app`).

A server (gunicorn, `flask run`) starts only on a database at the schema's head: it exits
with one line and a non-zero code instead of answering 500 later. Other commands load
the app too, and must work on a database that is behind (`db upgrade`, `setup`).
"""

import click

from portal import create_app, schema

app = create_app()


def _started_to_serve() -> bool:
    """Whether this process loads the app to serve it rather than to run a command.

    gunicorn imports this module outside any click command; `flask run` loads the app
    inside its own command, while every other `flask` command is looked up (which loads
    the app) before it runs.
    """
    context = click.get_current_context(silent=True)
    return context is None or (context.command.name == "run")


if _started_to_serve():
    schema.refuse_to_serve_unless_at_head(app)
