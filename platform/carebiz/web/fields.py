"""The control of a form field, as WTForms renders it, with a cheaper path for select boxes.

A WTForms ``Select`` widget inspects the signature of its option renderer and builds the
attributes of every option through ``html_params`` on each call: on the customer's 360° page
the entry form's two select boxes cost more than the rest of the form. :func:`form_control`
writes the same HTML for a plain select box (no option groups, no per-option attributes, the
stock widget) itself and hands every other field to its own widget unchanged.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms.widgets import Select, html_params


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
