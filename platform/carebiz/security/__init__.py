"""Authentication, permissions and row filters.

Two questions every plugin needs answered, both here: *may this user do X?*
(:func:`can`, :func:`require`) and *which rows may this user see?* (:func:`visible`)."""

from carebiz.security.permissions import api_login_required, can, require
from carebiz.security.rows import visible

__all__ = ["api_login_required", "can", "require", "visible"]
