"""Signals of the platform core's own area. Sender: the Flask app. Sent after commit.

Customer and vehicle signals (``customer.created`` …) live in the CRM's signal module.
"""

from blinker import Namespace

_ns = Namespace()

user_created = _ns.signal("user.created", doc="""A user account was created.
Arguments: ``user_id`` (int), ``username`` (str).""")

user_updated = _ns.signal("user.updated", doc="""A user's profile, roles, branches or active
flag changed. Arguments: ``user_id`` (int), ``changes`` (dict of field -> new value).""")

role_updated = _ns.signal("role.updated", doc="""A role was created or its permissions changed.
Arguments: ``role_id`` (int), ``name`` (str), ``permissions`` (sorted list of str).""")

branch_saved = _ns.signal("branch.saved", doc="""A branch was created or edited.
Arguments: ``branch_id`` (int), ``created`` (bool).""")

token_created = _ns.signal("token.created", doc="""An API token was issued.
Arguments: ``token_id`` (int), ``user_id`` (int). The secret is never sent.""")

token_revoked = _ns.signal("token.revoked", doc="""An API token was revoked.
Arguments: ``token_id`` (int), ``user_id`` (int).""")

login_throttled = _ns.signal("login.throttled", doc="""Failed logins reached a limit; logins
are refused for a while. Arguments: ``scope`` ("account" or "address"), ``username`` (str, as
typed, lower-cased), ``address`` (str).""")

plugin_switched = _ns.signal("plugin.switched", doc="""Subsystems were switched on or off.
Arguments: ``enabled`` (bool), ``names`` (sorted list of plugin names that changed).""")

setting_changed = _ns.signal("setting.changed", doc="""A business setting changed.
Arguments: ``key`` (str), ``value`` (new value), ``old`` (previous value).""")

job_finished = _ns.signal("job.finished", doc="""A background job ended.
Arguments: ``job_id`` (str), ``task`` (str), ``status`` ("finished" or "failed").""")

ALL = [user_created, user_updated, role_updated, branch_saved, token_created, token_revoked,
       login_throttled, plugin_switched, setting_changed, job_finished]
