"""Company overrides of document templates: the terms text, accent colour and logo passed to
the default template, or a whole template source of the company's own.

A template written in the admin pages is rendered in a :class:`SandboxedEnvironment`: it sees
the document's data, the translation functions and the filters of the app's templates, may
extend the core's ``documents/*`` templates, and nothing else (no ``__class__`` walks, no
``url_for``, no config). It is checked before it is saved: it must compile *and* render with
sample data, or the save is refused (422) with the line of the error.
"""

from __future__ import annotations

import base64
import binascii
import re
import traceback
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import jinja2
from flask import current_app
from flask_babel import gettext as _
from jinja2.sandbox import SecurityError
from sqlalchemy import select

from carebiz.concurrency import check_version
from carebiz.errors import ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.signals import core as signals

from .limits import LimitedSandbox
from .models import DocumentTemplate

COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
LOGO_RE = re.compile(r"^data:image/(png|jpeg|svg\+xml);base64,([A-Za-z0-9+/=]+)$")
LOGO_MIMES = ("image/png", "image/jpeg", "image/svg+xml")
#: largest logo (decoded bytes)
MAX_LOGO = 500 * 1024
#: largest template source (characters)
MAX_BODY = 200_000
#: largest terms text (characters)
MAX_TERMS = 20_000
#: the name a custom template's frames carry in tracebacks
SOURCE_NAME = "<template>"
#: globals of the app's Jinja environment that custom templates get (not ``range`` and
#: ``lipsum``: the sandbox's own are bounded)
SAFE_GLOBALS = ("_", "gettext", "ngettext", "pgettext", "npgettext", "dict", "cycler",
                "joiner", "namespace")
#: the globals among them that %-format their first arguments
FORMATTING_GLOBALS = ("_", "gettext", "ngettext", "pgettext", "npgettext")


def get_template(session: Any, doc_type: str) -> DocumentTemplate | None:
    return session.scalar(select(DocumentTemplate).where(DocumentTemplate.doc_type == doc_type))


def default_source(doc_type: Any) -> str:
    """The source of the type's default template (the starting point of an override)."""
    env = current_app.jinja_env
    assert env.loader is not None
    return env.loader.get_source(env, doc_type.template)[0]


def look(custom: DocumentTemplate | None) -> dict[str, Any]:
    """What the default template gets from an override: terms, accent colour and logo."""
    if custom is None:
        return {"terms": "", "accent_colour": None, "custom_logo": None}
    return {"terms": custom.terms or "", "accent_colour": custom.accent_colour,
            "custom_logo": custom.logo}


# --- the sandbox ---------------------------------------------------------------------------


class StrictSandbox(LimitedSandbox):
    """A sandbox where touching an unsafe attribute is an error at once (the stock sandbox
    returns an undefined that prints as nothing), so such a template is refused on save;
    its cost is bounded (:mod:`carebiz.documents.limits`)."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of "
                            f"{type(obj).__name__!r} object is unsafe.")


def sandbox() -> StrictSandbox:
    """A sandboxed environment with the app's filters and translation functions; it loads
    only the core's ``documents/`` templates (so a custom template may extend
    ``documents/base.html``)."""
    app_env = current_app.jinja_env

    def load(name: str) -> Any:
        if not name.startswith("documents/") or ".." in name or "\\" in name:
            return None
        try:
            assert app_env.loader is not None
            return app_env.loader.get_source(app_env, name)
        except jinja2.TemplateNotFound:
            return None

    env = StrictSandbox(autoescape=True, loader=jinja2.FunctionLoader(load),
                        extensions=["jinja2.ext.i18n"])
    for name, func in app_env.filters.items():
        env.filters.setdefault(name, func)
    env.limit_filters()
    for name in SAFE_GLOBALS:
        if name in app_env.globals:
            env.globals[name] = app_env.globals[name]
    env.formatting = {id(env.globals[name]) for name in FORMATTING_GLOBALS
                      if name in env.globals}
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    return env


def _error_line(exc: BaseException) -> int | None:
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.name is None:
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SOURCE_NAME:
            line = frame.lineno
    return line


def render_body(body: str, context: Mapping[str, Any]) -> str:
    """Render a custom template source in the sandbox, within its bounds (jinja errors and
    :class:`~carebiz.documents.limits.TemplateLimitError` propagate)."""
    env = sandbox()
    return env.render_limited(env.from_string(body), context)


def sandbox_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The render context for the sandbox: the type object becomes plain name and label."""
    ctx = dict(context)
    doc_type = ctx.get("document_type")
    if doc_type is not None and not isinstance(doc_type, Mapping):
        ctx["document_type"] = {"name": doc_type.name, "label": str(doc_type.label)}
    return ctx


def describe_error(exc: BaseException) -> str:
    line = _error_line(exc)
    if isinstance(exc, SecurityError):
        detail = _("access to an unsafe attribute is not allowed (%(error)s)", error=str(exc))
    else:
        detail = str(exc) or type(exc).__name__
    if line is None:
        return _("The template has an error: %(error)s", error=detail)
    return _("The template has an error on line %(line)s: %(error)s", line=line, error=detail)


# --- sample data ---------------------------------------------------------------------------


def sample_data(doc_type: Any) -> dict[str, Any]:
    """Data shaped like a document's, to check and preview a template without a record."""
    lines = [{"date": f"2024-01-0{i}", "source": _("Sample"), "ref": f"RO-{i}",
              "amount": "¥1,000.00", "currency": "CNY", "base_amount": "¥1,000.00",
              "foreign": False} for i in (1, 2)]
    total_text = "¥2,000.00"
    return {
        "title": str(doc_type.label),
        "company": "CareBusiness",
        "parties": [(_("Customer"), _("Sample customer")), (_("Customer number"), "1")],
        "columns": [_("Date"), _("Source"), _("Reference"), _("Amount"),
                    _("Amount in %(currency)s", currency="CNY")],
        "rows": [[ln["date"], ln["source"], ln["ref"], ln["amount"], ln["base_amount"]]
                 for ln in lines],
        "totals": [(_("Total"), total_text)],
        "capital": "贰仟元整",
        "generated_at": "2024-01-31 12:00",
        "customer": {"id": 1, "name": _("Sample customer"), "address": ""},
        "branch": {"name": _("Sample branch"), "address": "", "phone": ""},
        "lines": lines,
        "count": len(lines),
        "base_currency": "CNY",
        "total": Decimal("2000.00"),
        "total_text": total_text,
    }


def sample_context(doc_type: Any, terms: str = "", colour: str | None = None,
                   logo: str | None = None, paper: str = "A4") -> dict[str, Any]:
    return {"doc": sample_data(doc_type), "paper": paper, "logo_url": logo,
            "document_type": {"name": doc_type.name, "label": str(doc_type.label)},
            "for_print": False, "terms": terms, "accent_colour": colour}


# --- validation and saving -----------------------------------------------------------------


def check_body(doc_type: Any, body: str, terms: str = "", colour: str | None = None,
               logo: str | None = None) -> None:
    """The body must compile and render with sample data in the sandbox."""
    try:
        render_body(body, sample_context(doc_type, terms, colour, logo))
    except (jinja2.TemplateError, SecurityError) as exc:
        message = describe_error(exc)
        raise ValidationFailed(message, {"body": message}) from exc
    except Exception as exc:  # a filter or a test failing on the sample's values
        message = describe_error(exc)
        raise ValidationFailed(message, {"body": message}) from exc


def check_colour(colour: str | None) -> str | None:
    colour = (colour or "").strip()
    if not colour:
        return None
    if not COLOUR_RE.match(colour):
        message = _("A colour is written #rrggbb, e.g. #1f5fa8.")
        raise ValidationFailed(message, {"colour": message})
    return colour.lower()


def check_logo(logo: str | None) -> str | None:
    logo = (logo or "").strip()
    if not logo:
        return None
    match = LOGO_RE.match(logo)
    if not match:
        message = _("The logo must be a PNG, JPEG or SVG image.")
        raise ValidationFailed(message, {"logo": message})
    try:
        size = len(base64.b64decode(match.group(2), validate=True))
    except (binascii.Error, ValueError) as exc:
        message = _("The logo is not a readable image.")
        raise ValidationFailed(message, {"logo": message}) from exc
    if size > MAX_LOGO:
        message = _("The logo may be at most %(kb)s KB.", kb=MAX_LOGO // 1024)
        raise ValidationFailed(message, {"logo": message})
    return logo


def logo_data_uri(content: bytes, mimetype: str | None) -> str:
    """An uploaded image file as a data URI (checked by :func:`check_logo` on save)."""
    mime = (mimetype or "").split(";")[0].strip().lower()
    if mime == "image/jpg":
        mime = "image/jpeg"
    if mime not in LOGO_MIMES:
        message = _("The logo must be a PNG, JPEG or SVG image.")
        raise ValidationFailed(message, {"logo": message})
    if len(content) > MAX_LOGO:
        message = _("The logo may be at most %(kb)s KB.", kb=MAX_LOGO // 1024)
        raise ValidationFailed(message, {"logo": message})
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


def save_template(session: Any, doc_type: Any, body: str | None, terms: str | None,
                  colour: str | None, logo: str | None, actor: str = "",
                  expected_version: int | list[int] | None = None) -> DocumentTemplate:
    """Create or change the override of ``doc_type`` (a registered type). An empty body
    keeps the default template. ``expected_version``: the version the editor saw (None:
    last write wins). Audited; the caller commits."""
    current = get_template(session, doc_type.name)
    if current is not None:
        check_version(session, current, expected_version, entity_type="document_template",
                      entity_id=doc_type.name, current=_summary(current))
    body = (body or "").replace("\r\n", "\n")
    if not body.strip():
        body = None
    terms = (terms or "").replace("\r\n", "\n").strip()
    if len(terms) > MAX_TERMS:
        message = _("At most %(max)s characters.", max=MAX_TERMS)
        raise ValidationFailed(message, {"terms": message})
    colour = check_colour(colour)
    logo = check_logo(logo)
    if body is not None:
        if len(body) > MAX_BODY:
            message = _("At most %(max)s characters.", max=MAX_BODY)
            raise ValidationFailed(message, {"body": message})
        check_body(doc_type, body, terms, colour, logo)
    row = get_template(session, doc_type.name)
    before = _summary(row)
    if row is None:
        row = DocumentTemplate(doc_type=doc_type.name)
        session.add(row)
    row.body, row.terms, row.accent_colour, row.logo = body, terms, colour, logo
    row.updated_by = actor[:80]
    session.flush()
    after = _summary(row)
    key = f"documents.template.{doc_type.name}"
    emit(session, signals.setting_changed, key=key, value=after, old=before,
         audit=Audit("document_template", doc_type.name,
                     N_("Template of document %(type)s changed"), before, after,
                     args={"type": doc_type.name}, version=row.version))
    return row


def _summary(row: DocumentTemplate | None) -> dict[str, Any] | None:
    """Audit view: the texts as they are, the logo only by its size."""
    if row is None:
        return None
    return {"body": row.body, "terms": row.terms, "accent_colour": row.accent_colour,
            "logo": f"{len(row.logo)} bytes" if row.logo else None}
