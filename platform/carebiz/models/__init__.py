"""The core's own tables: organisation, security, audit, plugin switches, settings and jobs."""

from carebiz.models.audit import AuditEntry
from carebiz.models.branch import Branch
from carebiz.models.generation import CacheGeneration
from carebiz.models.job import Job
from carebiz.models.pending_merge import PendingMerge
from carebiz.models.plugin_state import PluginState
from carebiz.models.setting import SettingValue
from carebiz.models.token import ApiToken
from carebiz.models.user import Role, RolePermission, User, user_branches, user_roles

CORE_MODELS: list[type] = [
    Branch,
    User,
    Role,
    RolePermission,
    ApiToken,
    AuditEntry,
    PluginState,
    SettingValue,
    Job,
    CacheGeneration,
    PendingMerge,
]

__all__ = [
    "CORE_MODELS",
    "ApiToken",
    "AuditEntry",
    "Branch",
    "CacheGeneration",
    "Job",
    "PendingMerge",
    "PluginState",
    "Role",
    "RolePermission",
    "SettingValue",
    "User",
    "user_branches",
    "user_roles",
]
