"""Server-side revocation of browser sessions, and which credential speaks for a request.

A signed session cookie (or "remember me" cookie) stays valid for as long as it is kept, so
"log out" must be decided on the server. Every user row carries a *session epoch*; the
session and remember cookies hold ``"<user id>:<epoch>"`` (``User.get_id``). Logging out,
changing the password (by oneself or by an administrator) and deactivation raise the epoch,
which ends every session of that user, on every device, at once; a copied cookie is then
worth nothing. The check is free: the user row is loaded for each request anyway.

When a request carries ``Authorization: Bearer …``, the token alone decides who is asking:
a wrong token makes the request anonymous even beside a valid session cookie, so an invalid
token is never silently replaced by the browser's session.
"""

from __future__ import annotations

from typing import TypeVar

from flask import current_app, request
from flask_login import current_user, login_user

from carebiz.models import User
from carebiz.security import identity_cache
from carebiz.security.identity_cache import Identity

V = TypeVar("V")


def parse_id(value: str) -> tuple[int, int] | None:
    """``"12:3"`` -> ``(12, 3)``; None for anything else, including the epoch-less ids of
    cookies issued before epochs existed (those users log in once more)."""
    user_id, sep, epoch = (value or "").partition(":")
    if not sep:
        return None
    try:
        return int(user_id), int(epoch)
    except ValueError:
        return None


def load(value: str) -> Identity | None:
    """The active user a session or remember cookie names, if its epoch is still current.
    The user comes from the per-process identity cache, which any change to the user row
    (an epoch raised by logout in another worker too) invalidates before the next request."""
    parsed = parse_id(value)
    if parsed is None:
        return None
    identity = identity_cache.for_user(parsed[0])
    if identity is None or (identity.session_epoch or 0) != parsed[1]:
        return None
    return identity


def end_all(user: User) -> None:
    """End every session of ``user`` (the caller commits)."""
    user.session_epoch = (user.session_epoch or 0) + 1


def renew_current(user: User) -> None:
    """After :func:`end_all` for the user of this very request (own password changed), give
    this browser a session with the new epoch, so the one who changed it stays logged in."""
    if not current_user.is_authenticated or current_user.id != user.id:
        return
    from flask import current_app

    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    login_user(user, remember=remember_cookie in request.cookies)


def csrf_exempt(view: V) -> V:
    """Mark a view function that machines post to without any session — a GPS tracker or a
    phone app reporting its position — as taking unsafe requests without a CSRF token (put it
    under the route decorator). Such a view must not act on ``current_user``: a cookie the
    browser sends along authorises nothing there, which is why no token is needed."""
    view.carebiz_csrf_exempt = True  # type: ignore[attr-defined]
    return view


def _exempt_view() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "carebiz_csrf_exempt", False))


def needs_csrf() -> bool:
    """Whether this unsafe request must carry a CSRF token.

    Browsers send cookies on their own, so whatever a cookie authenticates must prove it came
    from our pages. Exempt are requests that a bearer token actually authenticated (a
    cross-site form cannot set that header; with one present the cookie is not used at all,
    see :mod:`carebiz.security.login`) and API requests that nothing authenticated: they
    carry no one's authority, and the endpoint answers them 401 — authentication first —
    and the views marked :func:`csrf_exempt` (devices reporting, no session at all)."""
    from carebiz.security.login import bearer_token

    if _exempt_view():
        return False
    authenticated = current_user.is_authenticated
    if bearer_token() is not None and authenticated:
        return False
    return not (request.path.startswith("/api/") and not authenticated)
