"""The kernel: users, roles, branches, API tokens, subsystems, settings, the audit log and
background jobs. Its code lives where each kind of code lives (``carebiz.models``,
``carebiz.services``, ``carebiz.web``, ``carebiz.api.core``, ``carebiz.jobs``); this package
holds its registration as a default plugin (:mod:`carebiz.kernel.plugin`)."""
