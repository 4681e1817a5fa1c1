"""The control of a form field, as WTForms renders it, with a cheaper path for select boxes.

A WTForms ``Select`` widget inspects the signature of its option renderer and builds the
attributes of every option through ``html_params`` on each call: on the customer's 360° page
the entry form's two select boxes cost more than the rest of the form. :func:`form_control`
writes the same HTML for a plain select box (no option groups, no per-option attributes, the
stock widget) itself and hands every other field to its own widget unchanged.
:func:`form_field` writes what the ``field`` macro of ``macros.html`` writes around the
control (label, control, help text, messages) in Python, for forms on pages opened all day
long (the 360° page's entry form: a Jinja macro call costs more than the HTML it writes).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms.widgets import (
    DateInput,
    DateTimeLocalInput,
    EmailInput,
    Select,
    TelInput,
    TextArea,
    TextInput,
    html_params,
)
from wtforms.widgets.core import clean_key

#: input widgets written by :func:`_input` exactly as ``wtforms.widgets.Input`` writes them
_INPUTS = (TextInput, DateTimeLocalInput, DateInput, EmailInput, TelInput)


def form_control(field: Any, **attrs: Any) -> Markup:
    """``field(**attrs)``: the field's control, with the given attributes (``class_``)."""
    if type(field.widget) is Select and not field.widget.multiple and not getattr(
            field, "render_kw", None):
        html = _plain_select(field, attrs)
        if html is not None:
            return html
    return field(**attrs)


def _plain_select(field: Any, attrs: dict[str, Any]) -> Markup | None:
    """The select box as ``wtforms.widgets.Select`` writes it, or None when it has option
    groups or per-option attributes (then the widget itself renders it)."""
    if field.has_groups():
        return None
    options = []
    for choice in field.iter_choices():
        if isinstance(choice, tuple):  # WTForms before 3.2: (value, label, selected[, kw])
            value, label, selected, *rest = choice
            render_kw = rest[0] if rest else None
        else:
            value, label, selected = choice.value, choice.label, choice.selected
            render_kw = choice.render_kw
        if render_kw:
            return None
        if isinstance(value, bool):
            value = str(value)
        text = escape(label or value)
        options.append(f'<option selected value="{escape(value)}">{text}</option>' if selected
                       else f'<option value="{escape(value)}">{text}</option>')
    params: dict[str, Any] = {"id": field.id, **attrs}
    flags = field.flags
    for flag in Select.validation_attrs:
        if flag not in params and getattr(flags, flag, False):
            params[flag] = getattr(flags, flag)
    return Markup(f"<select {html_params(name=field.name, **params)}>{''.join(options)}"
                  "</select>")


def form_field(field: Any) -> Markup:
    """The ``field`` macro of ``macros.html`` for ``field``, written in Python: the same
    HTML but for the whitespace between tags (``tests/test_form_field.py`` holds them to
    each other)."""
    invalid = " is-invalid" if field.errors else ""
    errors = "".join(f'<div class="invalid-feedback">{escape(e)}</div>' for e in field.errors)
    if field.type == "BooleanField":
        return Markup(f'<div class="form-check mb-3">{field(class_="form-check-input" + invalid)}'
                      f'{field.label(class_="form-check-label")}{errors}</div>')
    if field.type in ("HiddenField", "CSRFTokenField"):
        return Markup(field())
    if field.flags.hidden:  # nothing to choose (the one branch): keep the value
        data = field.data if field.data is not None else ""
        return Markup(f'<input type="hidden" name="{escape(field.name)}" value="{escape(data)}">')
    cls = ("form-select" if field.type in ("SelectField", "SelectMultipleField")
           else "form-control") + invalid
    help_text = (f'<div class="form-text">{escape(field.description)}</div>'
                 if field.description else "")
    return Markup(f'<div class="mb-3"><label class="form-label" for="{escape(field.id)}">'
                  f"{escape(field.label.text)}</label>{_control(field, cls)}{help_text}{errors}"
                  "</div>")


def _control(field: Any, cls: str) -> Markup:
    """The control as its WTForms widget writes it (text inputs and text areas written
    here, without ``html_params``' per-attribute ``Markup.format``)."""
    widget = type(field.widget)
    if widget not in _INPUTS and widget is not TextArea:
        return form_control(field, class_=cls)
    params: dict[str, Any] = {clean_key(k): v
                              for k, v in (getattr(field, "render_kw", None) or {}).items()}
    params["class"] = cls  # the caller's class wins over render_kw, as in WTForms
    params.setdefault("id", field.id)
    for flag, value in vars(field.flags).items():
        if flag in field.widget.validation_attrs and flag not in params:
            params[flag] = value() if callable(value) else value
    if widget is TextArea:
        return Markup(f"<textarea {_attributes(field.name, params)}>\r\n"
                      f"{escape(field._value())}</textarea>")
    params.setdefault("type", field.widget.input_type)
    if "value" not in params:
        params["value"] = field._value()
    return Markup(f"<input {_attributes(field.name, params)}>")


def _attributes(name: str, params: dict[str, Any]) -> str:
    """``wtforms.widgets.html_params(name=name, **params)`` for cleaned keys."""
    out = []
    for key, value in sorted({**params, "name": name}.items()):
        if value is True:
            out.append(key)
        elif value is not False:
            out.append(f'{key}="{escape(value)}"')
    return " ".join(out)
