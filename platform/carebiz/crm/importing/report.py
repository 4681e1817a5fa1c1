"""The options of an import and the report of what it did (or, in a dry run, would do)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from carebiz.crm.importing.decoding import Table
from carebiz.crm.importing.headers import ColumnMap
from carebiz.errors import ValidationFailed

#: what happens to a row whose phone or ID number belongs to a customer already on file
ON_EXISTING = ("attach", "skip", "create")
#: what the rows of a file describe; one kind today, the option leaves room for more
ROW_KINDS = ("customers",)


@dataclass
class Options:
    """How to import: ``on_existing`` decides what a row matching a customer on file does
    (attach its vehicle to that customer, skip the row, or create a new customer anyway);
    ``only_valid`` imports the valid rows even when others are bad."""

    on_existing: str = "attach"
    only_valid: bool = False
    rows: str = "customers"

    def check(self) -> Options:
        errors = {}
        if self.on_existing not in ON_EXISTING:
            errors["on_existing"] = _("One of: %(allowed)s.", allowed=", ".join(ON_EXISTING))
        if self.rows not in ROW_KINDS:
            errors["rows"] = _("One of: %(allowed)s.", allowed=", ".join(ROW_KINDS))
        if errors:
            raise ValidationFailed(_("The import options are not valid."), errors)
        return self


@dataclass
class Report:
    """What an import did or, in a dry run, would do."""

    rows: int = 0
    dry_run: bool = True
    committed: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    columns: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {
        "create": 0, "attach": 0, "skip": 0, "same_in_file": 0, "vehicles": 0,
        "vehicles_unchanged": 0, "invalid": 0})
    options: dict[str, Any] = field(default_factory=dict)
    #: a batched import: the last row (as Excel numbers it) of the last committed batch
    imported_through: int | None = None
    #: a batched import that stopped part way: the row it stopped at (nothing after it)
    stopped_at: int | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> int:
        return self.counts["invalid"]

    def as_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "rows": self.rows, "dry_run": self.dry_run,
                "committed": self.committed, "errors": self.errors,
                "warnings": self.warnings, "matches": self.matches, "counts": self.counts,
                "columns": self.columns, "options": self.options,
                "imported_through": self.imported_through, "stopped_at": self.stopped_at}


#: ``progress(done, total)``; a batched all-or-nothing import adds the stage,
#: ``progress(done, total, "check")`` and then ``"write"``, each counting the rows again
Progress = Callable[..., None]



def new_report(table: Table, cmap: ColumnMap, options: Options, dry_run: bool) -> Report:
    """An empty report of a run over ``table``, naming the columns it recognised."""
    report = Report(rows=len(table.rows), dry_run=dry_run, warnings=list(cmap.warnings),
                    options={"on_existing": options.on_existing,
                             "only_valid": options.only_valid, "rows": options.rows})
    report.columns = [{"column": c.header,
                       "field": c.spec.name if c.spec else f"{c.entity}.{c.key}"}
                      for c in cmap.columns]
    return report



def failure_message(report: Report, limit: int = 20) -> str:
    """Why an import did not (completely) happen, with the first bad rows spelled out for
    the job page: nothing was imported because rows are bad, or a batched import stopped
    part way and says which rows it wrote."""
    if report.stopped_at is not None:
        if report.imported_through is None:
            lines = [_("Row %(row)s could not be imported, so nothing was imported.",
                       row=report.stopped_at)]
        else:
            lines = [_("The import stopped at row %(row)s. The rows up to row %(last)s were "
                       "imported; row %(row)s and the rows after it were not. Correct the "
                       "problem and import those rows again.", row=report.stopped_at,
                       last=report.imported_through)]
    else:
        lines = [_("%(bad)d of %(rows)d rows are not valid, so nothing was imported. Correct "
                   "them and import again, or import only the valid rows.",
                   bad=report.bad_rows, rows=report.rows)]
    for error in report.errors[:limit]:
        lines.append(_("Row %(row)s, %(column)s: %(reason)s", row=error["row"],
                       column=error["column"] or "—", reason=error["reason"]))
    if len(report.errors) > limit:
        lines.append(_("… and %(count)d more.", count=len(report.errors) - limit))
    return "\n".join(lines)

