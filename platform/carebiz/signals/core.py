"""Signals of the platform core's own area (users, roles, branches, tokens, sign-in,
subsystems, settings, jobs). Sender: the Flask app. Each is sent after the sender's
transaction commits (:func:`carebiz.events.emit`); a rollback means it is never sent.

Customer and vehicle signals (``customer.created`` …) live in :mod:`carebiz.crm.signals`.
"""

from carebiz.signals import declare

user_created = declare(
    "user.created", "A user account was created.",
    sent_by="carebiz.services.users.create_user",
    arguments={"user_id": "int", "username": "str"})

user_updated = declare(
    "user.updated", "A user's profile, roles, branches or active flag changed.",
    sent_by="carebiz.services.users.update_user",
    arguments={"user_id": "int", "changes": "dict of field -> new value"})

role_updated = declare(
    "role.updated", "A role was created, renamed or its permissions changed.",
    sent_by="carebiz.services.roles.set_permissions and rename_role",
    arguments={"role_id": "int", "name": "str", "permissions": "sorted list of str"})

branch_saved = declare(
    "branch.saved", "A branch was created or edited.",
    sent_by="carebiz.services.branches.save_branch",
    arguments={"branch_id": "int", "created": "bool"})

token_created = declare(
    "token.created", "An API token was issued. The secret is never sent.",
    sent_by="carebiz.services.tokens.create_token",
    arguments={"token_id": "int", "user_id": "int"})

token_revoked = declare(
    "token.revoked", "An API token was revoked.",
    sent_by="carebiz.services.tokens.revoke_token",
    arguments={"token_id": "int", "user_id": "int"})

login_throttled = declare(
    "login.throttled", "Failed logins reached a limit; logins are refused for a while.",
    sent_by="carebiz.security.throttle.record_lockout",
    arguments={"scope": '"account" or "address"', "username": "str, as typed, lower-cased",
               "address": "str"})

plugin_switched = declare(
    "plugin.switched", "Subsystems were switched on or off.",
    sent_by="carebiz.services.subsystems.switch",
    arguments={"enabled": "bool", "names": "sorted list of the plugin names that changed"})

setting_changed = declare(
    "setting.changed", "A business setting (or a document template's text) changed.",
    sent_by="carebiz.services.settings.set_value and carebiz.documents.custom.save_template",
    arguments={"key": "str", "value": "the new value", "old": "the previous value"})

job_finished = declare(
    "job.finished", "A background job ended, or was found dead and failed.",
    sent_by="carebiz.jobs.runner.run_job and carebiz.jobs.cleanup.sweep_dead",
    arguments={"job_id": "str", "task": "str", "status": '"finished" or "failed"'})

ALL = [user_created, user_updated, role_updated, branch_saved, token_created, token_revoked,
       login_throttled, plugin_switched, setting_changed, job_finished]
