"""The plugin's own table. It lives in the plugin's own Alembic history (``hello``), never in
the core's, so installing or removing the plugin never touches other subsystems' schema."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, BranchOwned, TimestampMixin

MESSAGE_LENGTH = 200


class Greeting(BranchOwned, TimestampMixin, Base):
    """A short message written in a branch, optionally about a customer.

    ``BranchOwned`` adds ``branch_id`` and, through the core's row filter, limits every list
    to the branches the reader is granted. ``customer_id`` is a customer (``party``) number,
    a plain indexed integer: the example keeps its schema free of the core's CRM tables. A
    plugin whose records belong to customers puts a foreign key to ``party.id`` there (the
    CRM is part of the core, always present). Either way, ``customer_merge`` in
    :mod:`carebiz_hello.plugin` re-points the rows when two customers are merged.
    """

    __tablename__ = "hello_greeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(MESSAGE_LENGTH))
    customer_id: Mapped[int | None] = mapped_column(index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    def __repr__(self) -> str:
        return f"<Greeting {self.id} branch={self.branch_id}>"
