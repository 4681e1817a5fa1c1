"""The ``carebiz`` command: Flask's CLI (``run``, ``shell``, ``routes``) plus the platform's
commands. Every command builds its app with ``create_app``, so it honours the same
``CAREBIZ_*`` settings as the web server."""

from __future__ import annotations

import contextvars
import copy
import functools
import gc
import os
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from carebiz.errors import ServiceError
from carebiz.plugins.resolver import PluginSetupError


def _create_app() -> Flask:
    from carebiz import create_app

    try:
        return create_app()
    except PluginSetupError as exc:
        raise click.ClickException(str(exc)) from exc


def _loaded_app() -> Flask:
    """The app of this invocation (the one FlaskGroup builds, or a test's)."""
    return click.get_current_context().ensure_object(ScriptInfo).load_app()


def _ext() -> Any:
    return current_app.extensions["carebiz"]


def _session(actor: Any = None) -> Any:
    from carebiz import db

    sess = db.session()
    if actor is not None:
        sess.info["actor"] = actor
    return sess


def _fail(exc: ServiceError) -> click.ClickException:
    """A service's refusal as the command line says it: the message, then each field's."""
    detail = "".join(
        f"\n  {k}: {' '.join(map(str, v)) if isinstance(v, list | tuple) else v}"
        for k, v in exc.errors.items())
    return click.ClickException(exc.message + detail)


class CareBizGroup(FlaskGroup):
    """The ``carebiz`` command: a service error raised by any command (the core's or a
    plugin's) ends with its message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ServiceError as exc:
            raise _fail(exc) from exc


@click.group(cls=CareBizGroup, create_app=_create_app, add_version_option=True,
             set_debug_flag=False)
def main() -> None:
    """CareBusiness: car sales and service business platform."""


# -- database --------------------------------------------------------------
@main.group("db")
def db_group() -> None:
    """Database schema (Alembic, one history per plugin)."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Create or update every installed plugin's tables, core first."""
    from carebiz import migrate
    from carebiz.services.roles import sync_roles

    try:
        upgraded = migrate.upgrade(current_app)
    except migrate.MissingMigrations as exc:
        raise click.ClickException(str(exc)) from exc
    for plugin in upgraded:
        click.echo(f"upgraded {plugin}")
    sess = _session()
    granted = sync_roles(sess, _ext().host.collect("permissions"))
    sess.commit()
    if granted:
        click.echo(f"granted {len(granted)} new permissions to built-in roles")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Show the applied revision of every plugin."""
    from carebiz import migrate

    for plugin, heads in migrate.current(current_app).items():
        click.echo(f"{plugin}: {', '.join(heads) or '(none)'}")


@db_group.command("check")
@with_appcontext
def db_check() -> None:
    """Fail when the database differs from the models of any installed plugin (a model
    changed without a migration, or a migration that does not match its model)."""
    from carebiz import migrate

    problems = 0
    for plugin in migrate.migratable(current_app):
        diffs = migrate.differences(current_app, plugin)
        problems += len(diffs)
        click.echo(f"{plugin}: " + ("matches its models" if not diffs else
                                    f"{len(diffs)} differences"))
        for diff in diffs:
            click.echo(f"  {diff}")
    if problems:
        raise click.ClickException("the database does not match the models; write a "
                                   "migration with `carebiz db revision <plugin> -m ...`")


@db_group.command("revision")
@click.argument("plugin")
@click.option("-m", "--message", required=True)
@click.option("--empty", is_flag=True, help="Do not compare models with the database.")
@click.option("--rev-id", default=None, help="Readable revision id, e.g. sales_0002.")
@with_appcontext
def db_revision(plugin: str, message: str, empty: bool, rev_id: str | None) -> None:
    """Write a new migration into PLUGIN's own history (for plugin authors)."""
    from carebiz import migrate

    try:
        script = migrate.revision(current_app, plugin, message, autogenerate=not empty,
                                  rev_id=rev_id)
    except (KeyError, FileNotFoundError) as exc:
        raise click.ClickException(f"cannot write a revision for '{plugin}': {exc}") from exc
    click.echo(f"wrote {script.path}")


# -- plugins ---------------------------------------------------------------
@main.group("plugins")
def plugins_group() -> None:
    """Installed subsystems and their on/off switch."""


@plugins_group.command("list")
@with_appcontext
def plugins_list() -> None:
    """Name, version, enabled, dependencies of every installed plugin."""
    host = _ext().host
    active = host.active_names()
    rows = [("NAME", "VERSION", "ENABLED", "REQUIRES", "USES")]
    for name, m in host.manifests.items():
        if name == "core":
            continue
        rows.append((name, m.version, "yes" if name in active else "no",
                     ",".join(m.requires) or "-", ",".join(m.uses) or "-"))
    for name in sorted(set(host.available) - set(host.manifests)):
        m = host.available[name]
        rows.append((name, m.version, "not loaded", ",".join(m.requires) or "-",
                     ",".join(m.uses) or "-"))
    for name in sorted(host.failed):
        rows.append((name, "?", "failed", "-", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if len(rows) == 1:
        click.echo("(no plugins installed: the core runs alone)")
    for name, reason in sorted(host.failed.items()):
        click.echo(f"{name}: {reason}", err=True)


def _switch(name: str, enabled: bool) -> None:
    from carebiz.services import subsystems

    sess = _session()
    try:
        changed = subsystems.switch(sess, _ext().host, name, enabled, actor="cli")
    except ServiceError as exc:
        raise _fail(exc) from exc
    sess.commit()
    word = "enabled" if enabled else "disabled"
    click.echo(f"{word}: {', '.join(changed)}" if changed else f"nothing to change: {name} "
               f"is already {word}")


@plugins_group.command("enable")
@click.argument("name")
@with_appcontext
def plugins_enable(name: str) -> None:
    """Switch NAME on, with the plugins it requires."""
    _switch(name, True)


@plugins_group.command("disable")
@click.argument("name")
@with_appcontext
def plugins_disable(name: str) -> None:
    """Switch NAME off, with the plugins that require it. Its data is kept."""
    _switch(name, False)


# -- users and tokens ------------------------------------------------------
@main.group("users")
def users_group() -> None:
    """User accounts."""


@users_group.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "roles", multiple=True, help="Role name; repeat for several.")
@click.option("--branch", "branches", multiple=True, help="Branch code; repeat for several.")
@click.option("--all-branches", is_flag=True, help="See every branch.")
@click.option("--name", "display_name", default="")
@click.option("--email", default="")
@with_appcontext
def users_create(username: str, password: str, roles: tuple[str, ...],
                 branches: tuple[str, ...], all_branches: bool, display_name: str,
                 email: str) -> None:
    """Create USERNAME with a password, roles and branches."""
    from carebiz.services.roles import sync_roles
    from carebiz.services.users import create_user

    sess = _session()
    try:
        sync_roles(sess, _ext().host.collect("permissions"))
        user = create_user(sess, username, password, roles=roles, branches=branches,
                           all_branches=all_branches, display_name=display_name, email=email)
    except ServiceError as exc:
        raise _fail(exc) from exc
    sess.commit()
    click.echo(f"created user {user.username} (roles: {', '.join(roles) or 'none'})")


@main.group("tokens")
def tokens_group() -> None:
    """API tokens for integrators."""


@tokens_group.command("create")
@click.argument("username")
@click.option("--name", default="", help="What the token is for.")
@with_appcontext
def tokens_create(username: str, name: str) -> None:
    """Issue a token for USERNAME; the token is printed alone on the last line."""
    from carebiz.services.tokens import create_token
    from carebiz.services.users import get_user

    sess = _session()
    try:
        user = get_user(sess, username)
        token, secret = create_token(sess, user, name or "cli", by_operator=True)
    except ServiceError as exc:
        raise _fail(exc) from exc
    sess.commit()
    click.echo(f"token {token.prefix}… for {user.username} (shown once, keep it safe):")
    click.echo(secret)


@tokens_group.command("revoke")
@click.argument("prefix")
@with_appcontext
def tokens_revoke(prefix: str) -> None:
    """Revoke the token whose first characters are PREFIX."""
    from sqlalchemy import select

    from carebiz.models import ApiToken
    from carebiz.services.tokens import revoke_token

    sess = _session()
    matches = sess.scalars(select(ApiToken).where(ApiToken.prefix.startswith(prefix))).all()
    if len(matches) != 1:
        raise click.ClickException(f"{len(matches)} tokens start with '{prefix}'; give more "
                                   "characters" if matches else f"no token starts with '{prefix}'")
    try:
        revoke_token(sess, matches[0])
    except ServiceError as exc:
        raise _fail(exc) from exc
    sess.commit()
    click.echo(f"revoked {matches[0].prefix}…")


# -- first run -------------------------------------------------------------
def _interactive() -> bool:
    """Ask for missing values only at a terminal; scripts get a usage error instead."""
    return sys.stdin.isatty()


@main.command("setup")
@click.option("--business-name", help="Name of the business (documents, statements).")
@click.option("--branch-name", help="Name of the first branch.")
@click.option("--branch-code", help="Code of the first branch.  [default: MAIN]")
@click.option("--admin", "username", help="User name of the first administrator.")
@click.option("--password", help="The administrator's password (asked at a terminal).")
@click.option("--currency", help="ISO 4217 code of the base currency.  [default: CNY]")
@click.option("--name", "display_name", default="", help="The administrator's full name.")
@click.option("--email", default="")
@with_appcontext
def setup(business_name: str | None, branch_name: str | None, branch_code: str | None,
          username: str | None, password: str | None, currency: str | None,
          display_name: str, email: str) -> None:
    """First run: name the business and its first branch, create the first administrator.

    Does nothing (and says so) once any user exists, so it is safe to run twice."""
    from sqlalchemy.exc import DBAPIError

    from carebiz.services import setup as setup_service

    sess = _session()
    try:
        done = setup_service.is_set_up(sess)
    except DBAPIError as exc:
        raise click.ClickException("the database has no tables yet: run `carebiz db "
                                   "upgrade` first") from exc
    if done:
        click.echo("CareBusiness is set up already (users exist); nothing changed. Add users "
                   "with `carebiz users create`.")
        return
    asked = {  # service argument: (option, prompt, given value, default)
        "business_name": ("--business-name", "Business name", business_name, None),
        "branch_name": ("--branch-name", "First branch", branch_name, None),
        "branch_code": ("--branch-code", "Branch code", branch_code,
                        setup_service.DEFAULT_BRANCH_CODE),
        "username": ("--admin", "Administrator's user name", username, None),
        "currency": ("--currency", "Currency", currency, setup_service.DEFAULT_CURRENCY)}
    values: dict[str, str] = {}
    for key, (option, label, value, default) in asked.items():
        if value is None and _interactive():
            value = click.prompt(label, default=default)
        if value is None:
            value = default
        if value is None:
            raise click.UsageError(f"missing {option} (or run at a terminal to be asked)")
        values[key] = value
    if password is None:
        if not _interactive():
            raise click.UsageError("missing --password (or run at a terminal to be asked)")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = setup_service.set_up(sess, _ext().host, password=password,
                                    display_name=display_name, email=email, **values)
    except ServiceError as exc:
        sess.rollback()
        raise _fail(exc) from exc
    sess.commit()
    click.echo(f"set up {values['business_name']}: branch {values['branch_code'].upper()}, "
               f"administrator {user.username}. Log in at the web address of this server.")


# -- demo, worker, serve ---------------------------------------------------
@main.command("demo")
@with_appcontext
def demo() -> None:
    """Load demo data from the core and every switched-on plugin (safe to run twice)."""
    from carebiz.demo import load_demo

    summary = load_demo(current_app)
    click.echo(summary)


# Neither ``worker`` nor ``serve`` runs inside an app context (FlaskGroup's default): Flask
# reuses an already-pushed context of the same app for every request, so its ``g`` (the
# logged-in user, the DB session, the CSRF token) would live as long as the process and the
# first caller's identity would answer for everyone. Each request and each job pushes its own.
@main.command("worker", with_appcontext=False)
@click.option("--burst", is_flag=True, help="Run what is due and queued, then exit.")
@click.option("--interval", default=30.0, show_default=True,
              help="Seconds between schedule checks.")
def worker(burst: bool, interval: float) -> None:
    """Run background and scheduled jobs (on rq when CAREBIZ_JOB_QUEUE=rq)."""
    from carebiz.jobs.worker import work

    app = _loaded_app()
    work(app, burst=burst, interval=interval)


@main.command("pdf-check", with_appcontext=False)
def pdf_check() -> None:
    """Check this machine prints PDFs fast and in Chinese; time a first and a second PDF."""
    from carebiz.documents import warmup

    app = _loaded_app()
    first = warmup.warm_up(app)
    second = warmup.warm_up(app)
    click.echo(f"first PDF in this process: {first:.2f} s; the next: {second:.2f} s")
    found = warmup.problems()
    for problem in found:
        click.echo(f"problem: {problem}", err=True)
    if found:
        raise SystemExit(1)
    click.echo("PDF printing is set up: HarfBuzz subsetting and a CJK font are present")


@main.command("serve", with_appcontext=False)
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=lambda: min(2 * (os.cpu_count() or 1) + 1, 9),
              show_default="2 x CPUs + 1")
@click.option("--timeout", default=60, show_default=True)
def serve(bind: str, workers: int, timeout: int) -> None:
    """Production server: gunicorn with several worker processes."""
    from gunicorn.app.base import BaseApplication

    app = _loaded_app()  # fail here, with a clear message, before forking

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", timeout)
            self.cfg.set("accesslog", "-")
            self.cfg.set("post_worker_init", lambda worker: boot_worker(worker, app))
            # gunicorn's most; longer addresses get the app's own 414 (JSON on the API)
            self.cfg.set("limit_request_line", 8190)
            self.cfg.set("post_request", _freeze_after_warm_up)

        def load(self) -> Flask:
            return app

    click.echo(f"serving on http://{bind} with {workers} workers", err=True)
    app.extensions["carebiz"].engine.dispose()  # each worker opens its own connections
    # The started app holds ~100k long-lived objects; a full garbage collection walking them
    # costs 50-100 ms on a random request. Freeze them out of the collector's view (measured:
    # p99 of a name search from ~85 ms to ~10 ms; benchmarks/README.md).
    gc.collect()
    gc.freeze()
    # Fewer young collections: each one walks what a page keeps alive while it renders
    # (measured on the customers list: 1.2 -> 0.7-0.9 ms of collection per request).
    gc.set_threshold(2000, 20, 10)
    # Serve outside the app context this command runs in: a request reuses an app context it
    # finds, so every request of a worker would share one ``g`` (and its user).
    contextvars.Context().run(Server().run)


def boot_worker(worker: Any, app: Flask) -> None:
    """gunicorn's ``post_worker_init``: check the worker, then warm PDF printing up in the
    background (threads do not survive the fork, so each worker starts its own; measured in
    benchmarks/README.md, "Documents: the first PDF of a fresh server")."""
    check_no_app_context(worker)
    from carebiz.documents import warmup

    if warmup.enabled(app):
        warmup.start(app)


def check_no_app_context(_worker: Any) -> None:
    """Refuse to serve from a process that has an app context pushed (a context pushed
    before the fork is inherited through the context variables): every request would reuse
    it and its ``g``, i.e. run as the worker's first caller."""
    from flask import has_app_context

    if has_app_context():
        raise RuntimeError("an app context is pushed in the server process; requests would "
                           "share its g (user, session): start gunicorn outside app contexts")


#: requests after which a worker freezes what it built while warming up
WARM_UP_REQUESTS = 200


def _freeze_after_warm_up(worker: Any, _request: Any) -> None:
    """gunicorn's ``post_request``: the first requests of a worker compile templates and fill
    caches (statements, identities, registrations); a full collection walked all of it again
    every hundred pages or so (~20 ms on the customers list here). Freeze it once, like the
    start-up objects."""
    count = getattr(worker, "carebiz_requests", 0) + 1
    worker.carebiz_requests = count
    if count == WARM_UP_REQUESTS:
        gc.collect()
        gc.freeze()


def add_plugin_commands(app: Flask, host: Any) -> None:
    """Commands from the ``cli_commands`` hook join ``carebiz`` (every installed plugin: the
    command line is built once). A switched-off plugin's commands refuse to run."""
    for plugin, command in host.collect_by_plugin("cli_commands", include_inactive=True):
        command = _with_clear_errors(command)
        app.cli.add_command(command if host.is_core(plugin)
                            else _refused_while_off(command, plugin, host))


def _with_clear_errors(command: click.Command) -> click.Command:
    """A copy of ``command`` (and of a group's subcommands) whose callbacks end a
    ``ServiceError`` with its message and exit code 1: what :class:`CareBizGroup` does for
    ``carebiz``, also where the command runs without it (``app.test_cli_runner()``)."""
    copied = copy.copy(command)
    if isinstance(copied, click.Group):
        copied.commands = {name: _with_clear_errors(sub) for name, sub in copied.commands.items()}
    inner = copied.callback
    if inner is not None:
        def clear(*args: Any, **kwargs: Any) -> Any:
            try:
                return inner(*args, **kwargs)
            except ServiceError as exc:
                raise _fail(exc) from exc

        copied.callback = functools.update_wrapper(clear, inner)
    return copied


def _refused_while_off(command: click.Command, plugin: str, host: Any) -> click.Command:
    """A copy of ``command`` (the plugin's object is shared by every app of the process)
    whose callback first checks that ``plugin`` is switched on. For a group the check runs
    before any of its subcommands."""
    inner = command.callback

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not host.is_active(plugin):
            raise click.ClickException(
                f"the {plugin} subsystem is switched off; switch it on with "
                f"`carebiz plugins enable {plugin}` to use `{command.name}`")
        return inner(*args, **kwargs) if inner is not None else None

    guarded_command = copy.copy(command)
    guarded_command.callback = functools.update_wrapper(guarded, inner) if inner else guarded
    return guarded_command


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
