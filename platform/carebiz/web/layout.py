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
from flask_login import current_user
from markupsafe import escape
from werkzeug.routing import BuildError

from carebiz.security.permissions import can

log = logging.getLogger(__name__)


def navigation(user: Any) -> dict[str, list[dict[str, Any]]]:
    host = current_app.extensions["carebiz"].host
    sections: dict[str, list[dict[str, Any]]] = {}
    for item in host.collect("menu_items", user=user):
        if item.permission and not can(user, item.permission):
            continue
        try:
            url = url_for(item.endpoint, **dict(item.url_values))
        except BuildError:
            log.warning("menu item %s points to unknown endpoint %s", item.name, item.endpoint)
            continue
        sections.setdefault(item.section, []).append(
            {"name": item.name, "label": str(item.label), "url": url, "icon": item.icon,
             "active": request.path == url or request.path.startswith(url.rstrip("/") + "/")
             if url != "/" else request.path == "/"})
    return sections


def vendor_folder(package: str) -> str:
    if package == "bootstrap":
        import xstatic.pkg.bootstrap as pkg
    else:
        abort(404)
    return pkg.BASE_DIR


def init_app(app: Flask) -> None:
    from carebiz.web import links

    links.init_app(app)

    @app.context_processor
    def inject_layout() -> dict[str, Any]:
        return {"nav": navigation(current_user) if request else {}, "can": can}

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
