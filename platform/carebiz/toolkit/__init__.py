"""The toolkit of plugin code: the helpers every page and API of a plugin (and of the core)
needs, in one public, documented place. Import from here, not from the modules behind it::

    from carebiz.toolkit import business_tz, saving, form_status, visible_or_404

What each does, with an example, is in ``docs/plugin-guide.md`` ("Toolkit", "API errors").

- **time**: :func:`business_tz`, :func:`local_now`, :func:`today`, :func:`end_of_today`,
  :func:`aware`;
- **redirects**: :func:`safe_next`, :func:`redirect_next`;
- **records**: :func:`visible_or_404`, :func:`one_visible`, :func:`record_id`;
- **other plugins**: :func:`host` (capabilities, declared hooks, settings);
- **permissions**: :func:`can`, :func:`require`, :func:`api_login_required`,
  :func:`check_permission`, :func:`is_manager` (the :data:`MANAGE_TEAM` permission);
- **saving**: :func:`saving`, :class:`Outcome`, :func:`form_status`, :func:`apply_errors`;
- **API input and errors**: :func:`json_body`, :func:`error_body`, :func:`flatten_errors`,
  :func:`status_word`;
- **state changes**: :func:`machine`, :class:`Machine`, :class:`IllegalTransition` (an
  illegal move answers 409 with the record's ``status`` and the ``allowed`` actions);
- **paging and sorting** of pages that are not a declared list (``carebiz.lists``):
  :class:`Page`, :func:`paginate`, :func:`list_url`, :func:`sorted_by`.
"""

from carebiz.api.errors import error_body, flatten_errors, status_word
from carebiz.lists.paging import Page, list_url, paginate
from carebiz.lists.sorting import sorted_by
from carebiz.toolkit.app_host import host
from carebiz.toolkit.business_time import aware, business_tz, end_of_today, local_now, today
from carebiz.toolkit.json_input import json_body
from carebiz.toolkit.permissions import (
    EXPORT_PERMISSION,
    MANAGE_TEAM,
    api_login_required,
    can,
    check_permission,
    is_manager,
    require,
)
from carebiz.toolkit.records import MAX_ID, one_visible, record_id, visible_or_404
from carebiz.toolkit.redirects import redirect_next, safe_next
from carebiz.toolkit.save import Outcome, apply_errors, form_status, saving
from carebiz.toolkit.transitions import IllegalTransition, Machine, machine

__all__ = [
    "EXPORT_PERMISSION", "IllegalTransition", "MANAGE_TEAM", "MAX_ID", "Machine", "Outcome",
    "Page", "api_login_required", "machine",
    "apply_errors", "aware",
    "business_tz", "can", "check_permission", "end_of_today", "error_body", "flatten_errors",
    "form_status", "host", "is_manager", "json_body", "list_url", "local_now", "one_visible",
    "paginate", "record_id", "redirect_next", "require", "safe_next", "saving",
    "sorted_by", "status_word", "today", "visible_or_404",
]
