"""What every page needs: the navigation built from switched-on plugins' menu items (filtered
by permission), Bootstrap served from the ``xstatic-bootstrap`` package (no CDN), and HTML
error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.routing import BuildError

from carebiz.generations import PLUGINS, SECURITY
from carebiz.security.permissions import can

log = logging.getLogger(__name__)


#: app extension key of the per-process navigation cache
NAV_CACHE = "carebiz.navigation"
#: entries kept before the cache starts over (users x languages x script roots)
NAV_CACHE_SIZE = 1024
#: app extension key of the per-process cache of the menu's HTML (:func:`menu_markup`)
MENU_HTML_CACHE = "carebiz.menu_html"


def navigation(user: Any) -> dict[str, list[dict[str, Any]]]:
    """The menu sections of ``user`` for this request, with the current page marked active.

    What the menu holds depends only on the user and their grants, the switched-on plugins,
    the language and where the app is mounted, so the labels and URLs are built once per
    process for each such combination and reused until a cache generation moves (a changed
    role or grant, or a plugin switched off, is seen on the very next request in every
    worker; see ``carebiz.generations``). Only "active" is worked out per request."""
    items = _menu(user)
    path = request.path
    sections: dict[str, list[dict[str, Any]]] = {}
    by_name: dict[tuple[str, str], dict[str, Any]] = {}
    shown = {(section, name) for section, name, *_rest in items}
    for section, name, label, url, icon, parent in items:
        active = (path == url or path.startswith(url.rstrip("/") + "/")) if url != "/" \
            else path == "/"
        entry = {"name": name, "label": label, "url": url, "icon": icon, "active": active,
                 "children": []}
        by_name[(section, name)] = entry
        if parent and (section, parent) in shown and (section, parent) in by_name:
            head = by_name[(section, parent)]
            head["children"].append(entry)
            head["active"] = head["active"] or active
        else:
            sections.setdefault(section, []).append(entry)
    return sections


def menu_markup(user: Any, sections: dict[str, list[dict[str, Any]]]) -> Markup:
    """base.html's main menu and administration dropdown (``_menu.html``) for ``sections``
    (:func:`navigation` of this request). Rendering them cost more than the rest of the
    navbar (some thirty items, each escaped and tested), and they depend only on the menu
    (user, grants, plugins, language, script root: the key of :func:`_menu`) and on which
    items the page marks active; so the HTML is kept per process under both and only
    rendered again when one of them changes. Without cache generations nothing is kept."""
    key = _menu_key(user)
    if key is not None:
        active = tuple((section, entry["name"]) for section, entries in sections.items()
                       for item in entries for entry in (item, *item["children"])
                       if entry["active"])
        key = (key, active)
        cache = current_app.extensions.setdefault(MENU_HTML_CACHE, {})
        found = cache.get(key)
        if found is not None:
            return found
    html = Markup(current_app.jinja_env.get_template("_menu.html").render(nav=sections))
    if key is not None:
        if len(cache) >= NAV_CACHE_SIZE:
            cache.clear()
        cache[key] = html
    return html


#: app extension key of the per-process cache of :func:`fixed_url`
FIXED_URLS = "carebiz.fixed_urls"


def fixed_url(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)`` for the layout's links that depend on nothing of the
    request but where the app is served (stylesheets, scripts, the user menu's pages):
    built once per process for each host and script root instead of a dozen route builds on
    every page. The app registers no URL defaults or value preprocessors that could make
    them differ from one request to the next."""
    if not request:
        return url_for(endpoint, **values)  # rendered outside a request: nothing to key on
    key = (endpoint, tuple(sorted(values.items())), request.host, request.script_root)
    cache = current_app.extensions.setdefault(FIXED_URLS, {})
    url = cache.get(key)
    if url is None:
        if len(cache) >= NAV_CACHE_SIZE:
            cache.clear()
        url = cache[key] = url_for(endpoint, **values)
    return url


def _menu_key(user: Any) -> tuple[Any, ...] | None:
    """What the menu of ``user`` depends on in this request, or None without the cache
    generations (nothing may be kept then)."""
    generations = current_app.extensions["carebiz"].host.generations
    counters = generations.current() if generations is not None else None
    if counters is None:
        return None
    authenticated = bool(getattr(user, "is_authenticated", False))
    return (getattr(user, "id", None) if authenticated else None, authenticated,
            counters.get(SECURITY, 0), counters.get(PLUGINS, 0), str(get_locale()),
            request.script_root)


def _menu(user: Any) -> tuple[tuple[str, str, str, str, str, str | None], ...]:
    """``(section, name, label, url, icon, parent)`` of every menu item ``user`` may see, in
    menu order (a parent before the items that join its dropdown)."""
    host = current_app.extensions["carebiz"].host
    key = _menu_key(user)
    if key is not None:
        cache = current_app.extensions.setdefault(NAV_CACHE, {})
        found = cache.get(key)
        if found is not None:
            return found
    built = tuple(_build_menu(host, user))
    if key is not None:
        if len(cache) >= NAV_CACHE_SIZE:
            cache.clear()  # generations moved often or many users: start over
        cache[key] = built
    return built


def _build_menu(host: Any, user: Any) -> list[tuple[str, str, str, str, str, str | None]]:
    rows = []
    for item in host.collect("menu_items", user=user):
        if item.permission and not can(user, item.permission):
            continue
        try:
            url = url_for(item.endpoint, **dict(item.url_values))
        except BuildError:
            log.warning("menu item %s points to unknown endpoint %s", item.name, item.endpoint)
            continue
        rows.append((item.section, item.name, str(item.label), url, item.icon, item.parent))
    # parents first, so a child always finds its dropdown's head (weights may say otherwise)
    return sorted(rows, key=lambda row: row[5] is not None)


def vendor_folder(package: str) -> str:
    if package == "bootstrap":
        import xstatic.pkg.bootstrap as pkg
    else:
        abort(404)
    return pkg.BASE_DIR


def init_app(app: Flask) -> None:
    from carebiz.web import links
    from carebiz.web.fields import form_control, form_field

    links.init_app(app)
    app.jinja_env.globals["form_control"] = form_control
    app.jinja_env.globals["form_field"] = form_field
    app.jinja_env.globals["fixed_url"] = fixed_url

    @app.context_processor
    def inject_layout() -> dict[str, Any]:
        nav = navigation(current_user) if request else {}
        return {"nav": nav, "can": can,
                "menu_markup": lambda: menu_markup(current_user, nav) if request else ""}

    @app.route("/favicon.ico")
    def favicon() -> Any:
        """Browsers ask for this before reading the page's ``<link rel="icon">``."""
        return redirect(url_for("static", filename="favicon.svg"), code=301)

    @app.route("/static/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str) -> Any:
        return send_from_directory(vendor_folder(package), filename, max_age=86400)
    # HTML error pages are rendered by carebiz.api.CareBizApi.handle_http_exception, the
    # one app-wide HTTPException handler, which answers JSON under /api/ and HTML elsewhere.


def _html_error(exc: Any) -> Any:
    code = getattr(exc, "code", 500) or 500
    from carebiz.api import http_message

    try:
        description = http_message(exc)
    except Exception:  # a translation lookup failing must not hide the error itself
        description = ""
    return html_error_page(code, description)


def html_error_page(code: int, description: Any) -> Response:
    """The error page, and never an exception: the request's session is rolled back first
    (after a failed flush it refuses the queries the page's navigation makes), and when the
    page cannot be rendered (database down, broken template) a bare page says the same."""
    from carebiz import db

    db.rollback_session()
    try:
        response = make_response(render_template("errors/error.html", code=code,
                                                 description=description))
    except Exception:
        log.exception("the error page %s could not be rendered", code)
        response = bare_error_page(code, description)
    response.status_code = code
    return response


def bare_error_page(code: int, description: Any) -> Response:
    """An error page made of nothing that can fail: no template, session or translation."""
    try:
        text = str(description)
    except Exception:
        text = ""
    body = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{code}</title></head>"
            f"<body><h1>{code}</h1><p>{escape(text)}</p></body></html>")
    return Response(body, status=code, mimetype="text/html")
