"""The query builder's current result, exportable in every format (the Export control of
the builder page, and ``/export/query.results?source=…&<the builder's arguments>``)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from carebiz.errors import ValidationFailed
from carebiz.query import service


def results_table(session: Any, user: Any, args: Any) -> Any:
    """The rows the builder shows (all pages), as the user may see them."""
    from carebiz.query import views  # the builder's URL format lives with the page

    source = service.get_source(user, str(args.get("source") or ""))
    state = views.read_state(source, args)
    body = views.body_of(source, state)  # converts the rows' values, noting bad ones
    problems = {k: " ".join(v) for k, v in state.errors.items()}
    problems.update({f"row{i + 1}": " ".join(r.errors) for i, r in enumerate(state.rows)
                     if r.errors})
    if problems:
        raise ValidationFailed(_("The query is not valid."), problems)
    table = service.export_table(session, user, source.name, body)
    lines = [f"{_('Search')}: {state.q}"] if state.q else []
    lines += [" ".join(filter(None, (r.field, r.op, r.value))) for r in state.rows if r.field]
    table.filters = lines
    return table
