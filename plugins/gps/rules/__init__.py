"""Alarm rules evaluated at ingest, in pure Python (no database, no Flask).

:class:`~.engine.RuleEngine` keeps a :class:`~.engine.DeviceRuleState` per device and is fed
each batch's fixes in time order, the heartbeats (ignition) and the device's own alarms; it
answers :class:`~carebiz_plugins.gps.fixes.AlarmEvent` candidates, which
``services.alarms.raise_alarms`` stores. What each device is watched by comes in a
:class:`~.engine.DeviceRules` (limits of its vehicle and groups, its compiled fences), built
by ``services.alarms`` from the tables and cached.

WHY pure: every rule is an episode state machine (enter/exit, one overspeed alarm per
episode, idle, fatigue …) whose cases are many and whose tests must be fast; the database
only supplies the configuration and stores the answers.

Rules, in brief (details in :mod:`.engine`):

- geofences (circle, polygon, corridor; :mod:`.fences`): enter / exit by a change of state,
  the first fix only remembers where the device is; an optional schedule (:mod:`.schedule`)
  silences a fence outside its hours; a fence's ``speed_limit_kmh`` is the overspeed limit
  inside it;
- overspeed: one alarm per episode once the speed stayed above the limit for the minimal
  duration; the episode ends below ``limit - hysteresis``, when the limit goes away or after
  a gap in the data, and one that raised its alarm reports its final figures
  (:class:`~.engine.EpisodeEnd`, on :meth:`~.engine.RuleEngine.run`'s answer) for the
  stored alarm;
- idle, fatigue driving, ignition outside allowed hours: one alarm per episode;
- offline: by a periodic sweep (:func:`.engine.offline_candidates`), not by fixes;
- device alarms (SOS, power cut, vibration, low battery …) pass through;
- re-uploaded history (``Fix.reupload``) changes no state and raises nothing.
"""

from .engine import (
    DeviceRules,
    DeviceRuleState,
    EpisodeEnd,
    Evaluation,
    Limits,
    OfflineWatch,
    RuleEngine,
    offline_candidates,
)
from .fences import Fence, compile_fence
from .schedule import Schedule

__all__ = [
    "DeviceRuleState", "DeviceRules", "EpisodeEnd", "Evaluation", "Fence", "Limits",
    "OfflineWatch", "RuleEngine", "Schedule", "compile_fence", "offline_candidates",
]
