"""Lists declared once for their page, their JSON endpoint and every export format.

A plugin declares a :class:`ListDefinition` (statement, typed :class:`Filter` s, a
:class:`Search`, sortable columns, :class:`ExportSpec`), registers it with
``ExportTable.of_list(definition)`` from its ``export_tables`` hook, and calls
:func:`prepare` then :func:`page` from its page, :func:`api_page` from its API route. The
paging and sorting helpers of pages that are not such a list live here too."""

from carebiz.lists.answer import api_page
from carebiz.lists.definition import (
    BOOL,
    CHOICE,
    DATE_RANGE,
    ID,
    PREFIXED,
    TEXT,
    DateRange,
    ExportSpec,
    Filter,
    ListDefinition,
    Search,
    Searched,
)
from carebiz.lists.paging import PER_PAGE, Page, count, list_url, page_of, paginate
from carebiz.lists.registry import definition_of, registered_lists
from carebiz.lists.runner import Listing, page, prepare, table
from carebiz.lists.sorting import ordered, sorted_by

__all__ = ["BOOL", "CHOICE", "DATE_RANGE", "ID", "PER_PAGE", "PREFIXED", "TEXT", "DateRange",
           "ExportSpec", "Filter", "ListDefinition", "Listing", "Page", "Search", "Searched",
           "api_page", "count", "definition_of", "list_url", "ordered", "page", "page_of",
           "paginate", "prepare", "registered_lists", "sorted_by", "table"]
