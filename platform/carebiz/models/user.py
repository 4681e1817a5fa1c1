"""Users and roles. Roles are data: admins edit which permissions each role holds."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carebiz.db import Base, TimestampMixin
from carebiz.models.branch import Branch

user_roles = Table(
    "user_role",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
)

user_branches = Table(
    "user_branch",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("branch_id", ForeignKey("branch.id", ondelete="CASCADE"), primary_key=True),
)


class Role(TimestampMixin, Base):
    __tablename__ = "role"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    #: superuser roles hold every permission, including ones registered later
    superuser: Mapped[bool] = mapped_column(default=False)
    builtin: Mapped[bool] = mapped_column(default=False)

    grants: Mapped[list[RolePermission]] = relationship(
        back_populates="role", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def permission_names(self) -> set[str]:
        return {g.permission for g in self.grants}

    def __repr__(self) -> str:
        return f"<Role {self.name}>"


class RolePermission(Base):
    __tablename__ = "role_permission"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(120), primary_key=True)

    role: Mapped[Role] = relationship(back_populates="grants")


class User(UserMixin, TimestampMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    #: mobile number in E.164 (``+8613800138000``) or empty: where text messages reach the
    #: user, and how a message sent to the inbound gateway is known to come from them
    phone: Mapped[str] = mapped_column(String(32), default="", server_default="", index=True)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    locale: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    #: sees every branch (company-wide managers, administrators)
    all_branches: Mapped[bool] = mapped_column(default=False)
    default_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    last_login_at: Mapped[dt.datetime | None]
    #: part of every session and "remember me" cookie (see :meth:`get_id`); raising it ends
    #: all of the user's sessions at once (logout, password change, deactivation)
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")
    branches: Mapped[list[Branch]] = relationship(
        secondary=user_branches, lazy="selectin"
    )

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the "remember me" cookie: the id and the
        session epoch, so a cookie issued before the epoch was raised no longer logs in
        (checked by :func:`carebiz.security.sessions.load`)."""
        return f"{self.id}:{self.session_epoch or 0}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def is_superuser(self) -> bool:
        return any(r.superuser for r in self.roles)

    @property
    def permission_names(self) -> set[str]:
        names: set[str] = set()
        for role in self.roles:
            names |= role.permission_names
        return names

    @property
    def branch_ids(self) -> set[int]:
        """Branches granted explicitly (plus the default branch)."""
        ids = {b.id for b in self.branches}
        if self.default_branch_id:
            ids.add(self.default_branch_id)
        return ids

    def __repr__(self) -> str:
        return f"<User {self.username}>"

