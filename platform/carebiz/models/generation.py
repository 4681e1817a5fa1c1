"""Counters that tell every worker process when what it caches has changed."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base


class CacheGeneration(Base):
    """One counter per kind of cached data (``security``: users, roles, grants, branches and
    tokens; ``plugins``: the on/off switches). Any change to such data increments its counter
    in the same transaction (``carebiz.generations``), so a process that reads the counters at
    the start of a request knows whether its caches still hold, in one small query. A missing
    row counts as 0."""

    __tablename__ = "cache_generation"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
