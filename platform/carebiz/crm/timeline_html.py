"""The 360° page's timeline entries, follow-up badges and follow-up "done" forms, written in
Python instead of through the ``timeline_item`` and ``complete_form`` macros of
``crm/_crm.html``.

Why: the page shows up to twenty entries and each open follow-up's form, and a Jinja macro
call with its context, its escaping of every value and its dozen ``gettext`` and global
calls costs more than the entry's text. Here the words of the page are translated, the
labels of stored codes looked up and the link prefixes built once per request
(:class:`TimelineHtml`); each entry is then one string join. The HTML is exactly what the
macros write (``tests/test_timeline_html.py`` holds it to them for every state of an entry),
and every value goes through ``markupsafe.escape`` as Jinja's autoescaping would: the
subject, the body, names and labels can never add markup.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import get_locale, gettext
from flask_babel.speaklater import LazyString
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from carebiz.crm import forms as f
from carebiz.i18n import datetime_filter
from carebiz.web.links import id_url, record_label, record_url

#: kinds whose closed entries show as "done" (the others have no status badge)
_DONE_KINDS = ("task", "return_visit")


def _memo() -> dict[Any, Any]:
    """What is translated once per app and language (the catalogs do not change while the
    process runs): the page's words and the kinds' labels."""
    by_locale = current_app.extensions.setdefault("carebiz.timeline_html", {})
    locale = str(get_locale())
    found = by_locale.get(locale)
    if found is None:
        found = by_locale[locale] = {}
    return found


def _words() -> tuple[Markup, ...]:
    """The page's words, as ``{{ _("...") }}`` writes them (a translation is markup)."""
    return tuple(Markup(gettext(word)) for word in (
        "Overdue", "Vehicle", "Due", "Outcome", "Satisfaction", "by %(name)s", "Done"))


def kind_label(label: Any) -> Markup:
    """A timeline kind's ``label`` translated once per language (see :func:`_kind_label`),
    for other places that show it (the entry form's choices)."""
    return _kind_label(_memo(), label)


def _kind_label(memo: dict[Any, Any], label: Any) -> Markup:
    """A kind's label escaped as ``{{ label }}`` writes it, translated once per language:
    plugins hand out new lazy labels on every call, so they are known by what they
    translate (the function and its message), never by identity."""
    if not isinstance(label, LazyString):
        return escape(label)
    try:
        key = ("kind", label._func, label._args, tuple(sorted(label._kwargs.items())))
        found = memo.get(key)
    except TypeError:  # an argument that cannot be a key: translate it every time
        return escape(label)
    if found is None:
        found = memo[key] = escape(label)
    return found


class TimelineHtml:
    """Writes the entries of one page: built once per request with what every entry shares
    (the timeline ``kinds``, the authors' names in ``people``, ``now`` for "overdue", the
    labels of stored codes ``status_labels``)."""

    def __init__(self, kinds: dict[str, Any], people: dict[int, str], now: Any,
                 status_labels: dict[str, str]) -> None:
        memo = _memo()
        self.kinds = {name: _kind_label(memo, k.label) for name, k in kinds.items()}
        self.people = people
        self.now = now
        words = memo.get("words")
        if words is None:
            words = memo["words"] = _words()
        (self.overdue, self.vehicle_word, self.due_word, self.outcome_word,
         self.satisfaction_word, self.by, self.done_word) = words
        self.open = escape(status_labels["open"])
        self.cancelled = escape(status_labels["cancelled"])
        self.done = escape(status_labels["done"])
        self._vehicle_url = id_url("crm.vehicle", "vehicle_id")
        self._customer_url = id_url("crm.customer", "party_id")
        self._complete_url = id_url("crm.timeline_complete", "entry_id")
        self._form_words: tuple[Markup, Markup] | None = None
        self._satisfaction_options: str | None = None

    def kind(self, code: str) -> Markup:
        """The label of a timeline kind (the code itself for a kind no plugin offers now)."""
        found = self.kinds.get(code)
        return found if found is not None else escape(code)

    def entry(self, e: Any, vehicle: Any = None, customer: Any = None) -> Markup:
        """One entry of the timeline, as the ``timeline_item`` macro writes it."""
        parts = ['\n<li class="list-group-item" data-entry-id="', escape(e.id),
                 '" data-kind="', escape(e.kind),
                 '">\n  <div class="d-flex flex-wrap justify-content-between gap-2">\n'
                 '    <div>\n      <span class="badge text-bg-secondary">', self.kind(e.kind),
                 '</span>\n      ']
        if e.status == "open":
            if e.due_at and e.due_at < self.now:
                parts += ['\n        <span class="badge text-bg-danger">', self.overdue,
                          '</span>\n        \n      ']
            else:
                parts += ['\n        <span class="badge text-bg-warning">', self.open,
                          '</span>\n      ']
        elif e.status == "cancelled":
            parts += ['<span class="badge text-bg-secondary">', self.cancelled,
                      '</span>\n      ']
        elif e.kind in _DONE_KINDS:
            parts += ['<span class="badge text-bg-success">', self.done, '</span>\n      ']
        parts += ['\n      <strong>', escape(e.subject), '</strong>\n      ']
        if customer:
            parts += [' · <a href="', escape(self._customer_url(customer.id)), '">',
                      escape(customer.name), '</a>']
        parts += ['\n    </div>\n    <time class="text-muted small" datetime="',
                  escape(e.occurred_at.isoformat()), '">', escape(datetime_filter(e.occurred_at)),
                  '</time>\n  </div>\n  ']
        if e.body:
            parts += ['<div class="small mt-1" style="white-space: pre-wrap">', escape(e.body),
                      '</div>']
        parts.append('\n  <div class="small text-muted mt-1 d-flex flex-wrap gap-3">\n    ')
        if vehicle:
            parts += ['<span>', self.vehicle_word, ': <a href="',
                      escape(self._vehicle_url(vehicle.id)), '">',
                      escape(vehicle.plate or vehicle.vin), '</a></span>']
        parts.append('\n    ')
        if e.due_at:
            parts += ['<span>', self.due_word, ': ', escape(datetime_filter(e.due_at, "short")),
                      '</span>']
        parts.append('\n    ')
        if e.outcome:
            parts += ['<span>', self.outcome_word, ': ', escape(e.outcome), '</span>']
        parts.append('\n    ')
        if e.satisfaction:
            parts += ['<span>', self.satisfaction_word, ': ', escape(e.satisfaction),
                      '/5</span>']
        parts.append('\n    ')
        if e.ref_type:
            ref = record_url(e.ref_type, e.ref_id)
            label = escape(record_label(e.ref_type, e.ref_id))
            parts.append('\n    ')
            parts += (['<a href="', escape(ref), '">', label, '</a>'] if ref
                      else ['<span>', label, '</span>'])
        parts.append('\n    ')
        name = self.people.get(e.created_by) if e.created_by else None
        if name:
            parts += ['<span>', self.by % {"name": name}, '</span>']
        parts.append('\n  </div>\n</li>\n')
        return Markup("".join(parts))

    def complete_form(self, e: Any, next_url: str) -> Markup:
        """One open follow-up's "done" form, as the ``complete_form`` macro writes it; the
        view that takes it validates it with ``crm.forms.CompleteForm`` (CSRF included)."""
        if self._form_words is None:
            self._form_words = (escape(f.OUTCOME_LABEL), escape(f.SATISFACTION_LABEL))
        outcome, satisfaction = self._form_words
        ident = escape(e.id)
        parts = ['\n\n<form method="post" action="', escape(self._complete_url(e.id)),
                 '"\n      class="row g-2 align-items-end mt-1" data-testid="complete-form"'
                 ' data-entry-id="', ident,
                 '">\n  <input type="hidden" name="csrf_token" value="', escape(generate_csrf()),
                 '">\n  <input type="hidden" name="next" value="', escape(next_url),
                 '">\n  <div class="col-12 col-sm">\n'
                 '    <label class="form-label small mb-0" for="outcome-', ident, '">', outcome,
                 '</label>\n    <input class="form-control form-control-sm" id="outcome-',
                 ident, '" name="outcome" autocomplete="off">\n  </div>\n  ']
        if e.kind == "return_visit":
            parts += ['\n  <div class="col-6 col-sm-auto">\n'
                      '    <label class="form-label small mb-0" for="satisfaction-', ident, '">',
                      satisfaction, '</label>\n'
                      '    <select class="form-select form-select-sm" id="satisfaction-', ident,
                      '" name="satisfaction">\n      ', self._options(), '\n    </select>\n'
                      '  </div>\n  ']
        parts += ['\n  <div class="col-6 col-sm-auto">\n'
                  '    <button class="btn btn-sm btn-success" type="submit">', self.done_word,
                  '</button>\n  </div>\n</form>\n']
        return Markup("".join(parts))

    def _options(self) -> str:
        if self._satisfaction_options is None:
            self._satisfaction_options = "".join(
                f'<option value="{escape(value)}">{escape(label)}</option>'
                for value, label in f.SATISFACTION_CHOICES)
        return self._satisfaction_options


#: the entry form's fields in the order the page shows them
ENTRY_FIELDS = ("kind", "subject", "vehicle_id", "body", "due_at")


def entry_form(kinds: list[tuple[str, Any]], kind: str, vehicles: list[tuple[str, str]],
               vehicle: str, due: Any) -> dict[str, Markup]:
    """The 360° page's entry form opened afresh (a GET), as ``form.hidden_tag()`` (key
    ``hidden``) and :func:`carebiz.web.fields.form_field` (a key per field) write it for the
    ``crm.forms.TimelineForm`` the view would build with these choices (``kinds`` and
    ``vehicles`` as ``(value, label)``) and values (``kind``, ``vehicle``, ``due``).

    Building that form (meta, CSRF, five bound fields) and writing its two select boxes cost
    a tenth of the page; the form only holds what the view put in. A form sent back with
    errors is rendered by WTForms itself (it keeps what was typed), and
    ``tests/test_timeline_html.py`` holds this to WTForms' own text. The view that takes
    the form validates it with ``TimelineForm``, CSRF included."""
    memo = _memo()
    words = memo.get("entry_form")
    if words is None:
        form = f.TimelineForm
        words = memo["entry_form"] = {
            name: escape(getattr(form, name).args[0]) for name in ENTRY_FIELDS} | {
            "help": escape(form.due_at.kwargs["description"])}
    due_text = due.strftime(f.LOCAL_FORMATS[0]) if due else ""
    return {
        "hidden": Markup('<input id="csrf_token" name="csrf_token" type="hidden" value="'
                         f'{escape(generate_csrf())}">')
        if current_app.config.get("WTF_CSRF_ENABLED", True) else Markup(""),
        "kind": _select("kind", words["kind"], kinds, kind),
        "subject": Markup(f'<div class="mb-3"><label class="form-label" for="subject">'
                          f'{words["subject"]}</label><input class="form-control" id="subject"'
                          ' maxlength="200" name="subject" type="text" value=""></div>'),
        "vehicle_id": _select("vehicle_id", words["vehicle_id"], vehicles, vehicle),
        "body": Markup(f'<div class="mb-3"><label class="form-label" for="body">'
                       f'{words["body"]}</label><textarea class="form-control" id="body" '
                       'name="body" rows="2">\r\n</textarea></div>'),
        "due_at": Markup(f'<div class="mb-3"><label class="form-label" for="due_at">'
                         f'{words["due_at"]}</label><input class="form-control" id="due_at" '
                         f'name="due_at" type="datetime-local" value="{escape(due_text)}">'
                         f'<div class="form-text">{words["help"]}</div></div>'),
    }


def _select(name: str, label: Markup, choices: list[tuple[str, Any]], chosen: str) -> Markup:
    """A plain select box with its label, as ``form_field`` writes a ``SelectField``."""
    options = "".join(
        f'<option selected value="{escape(value)}">{escape(text)}</option>' if value == chosen
        else f'<option value="{escape(value)}">{escape(text)}</option>'
        for value, text in choices)
    return Markup(f'<div class="mb-3"><label class="form-label" for="{name}">{label}</label>'
                  f'<select class="form-select" id="{name}" name="{name}">{options}</select>'
                  "</div>")
