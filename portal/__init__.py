"""Lapor Pungli: an anonymous, encrypted reporting portal against illegal levies."""

from __future__ import annotations

from typing import Any

from flask import Flask

from portal import config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, security, blueprints, errors, CLI."""
    app = Flask(
        __name__,
        instance_path=config.instance_path(),
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    config.load(app, test_config)
    register_extensions(app)
    register_security(app)
    register_blueprints(app)
    register_errors(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    from portal import database, i18n, sanitize, schema, security, signing
    from portal.extensions import babel, csrf, db, limiter, migrate
    from portal.services import status_counts, versions
    from portal.services.staff import directory as staff_directory
    from portal.services.stats import pending as stats_pending

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(schema.MIGRATIONS_DIRECTORY), **schema.CONTEXT_OPTIONS)
    processors = app.template_context_processors[None]
    before = list(processors)
    csrf.init_app(app)
    # Templates' csrf_token(): Flask-WTF's token, from a serializer kept between requests.
    # Flask-WTF also adds a context processor that hands templates its own generate_csrf
    # (a new serializer and key derivation per page), and a context processor wins over a
    # global: it goes, its csrf_meta_tag stays a global.
    processors[:] = before
    app.jinja_env.globals["csrf_token"] = signing.csrf_token
    limiter.init_app(app)
    security.install_default_limit(app, limiter)
    i18n.init_app(app, babel)
    sanitize.init_app(app)
    status_counts.install()  # the queue's counts follow every report change
    versions.install()  # a server forgets the version tokens it replaced once they commit
    staff_directory.install()  # and the kept staff list follows every member change
    stats_pending.install()  # and the statistics' timer learns which reports changed


def register_security(app: Flask) -> None:
    """Headers on every response, proxy handling, scrubbed request logs, static caching."""
    from portal import assets, security

    security.register(app)
    assets.register(app)


def register_blueprints(app: Flask) -> None:
    """One blueprint per audience (and one for load balancers)."""
    from portal import moved
    from portal.api import bp as api_bp
    from portal.citizens import bp as citizens_bp
    from portal.inspectorate import bp as inspectorate_bp
    from portal.ops import bp as ops_bp
    from portal.public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(citizens_bp)
    app.register_blueprint(inspectorate_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(ops_bp)
    moved.init_app(app)


def register_errors(app: Flask) -> None:
    """Translated error pages (and JSON errors under /api)."""
    from portal import errors

    errors.register(app)


def register_cli(app: Flask) -> None:
    """Operator commands: `flask --app wsgi setup`, ..."""
    from portal import cli

    cli.register(app)
