"""plate-only vehicles (VIN may be empty) and the data.export / api.tokens permissions

Revision ID: core_0011_plate_only_vehicles
Revises: core_0010_search
Create Date: 2026-12-02 05:00:00.000000

Two changes of issue 10:

* ``vehicle.vin`` becomes nullable. The unique constraint stays: NULLs never collide on
  SQLite or PostgreSQL, so a VIN is still unique when present. SQLite cannot alter a column,
  hence ``batch_alter_table`` (it copies the table). Downgrading refuses while plate-only
  vehicles exist rather than invent VINs for them.
* Exporting lists became its own permission (``data.export``) and creating one's own API
  tokens too (``api.tokens``). Until now every role that could see a list could export it and
  every user could create tokens, so every existing role except the read-only one gets both:
  nobody loses what they had. The admin role is granted them too, which is how
  :func:`carebiz.services.roles.sync_roles` remembers a permission as seen (so it does not grant
  them again on top). On a fresh database there are no roles yet and ``sync_roles`` grants
  them by their default roles.
"""

from alembic import op
import sqlalchemy as sa


revision = 'core_0011_plate_only_vehicles'
down_revision = 'core_0010_search'
branch_labels = None
depends_on = None

#: permissions every existing role but the read-only one held implicitly before
NEW_PERMISSIONS = ("data.export", "api.tokens")
READ_ONLY_ROLE = "read_only"

role = sa.table("role", sa.column("id", sa.Integer), sa.column("name", sa.String))
role_permission = sa.table("role_permission", sa.column("role_id", sa.Integer),
                           sa.column("permission", sa.String))


def upgrade() -> None:
    with op.batch_alter_table('vehicle', schema=None) as batch_op:
        batch_op.alter_column('vin', existing_type=sa.String(length=17), nullable=True)
    conn = op.get_bind()
    roles = conn.execute(sa.select(role.c.id).where(role.c.name != READ_ONLY_ROLE)).scalars()
    for role_id in list(roles):
        held = set(conn.execute(sa.select(role_permission.c.permission).where(
            role_permission.c.role_id == role_id)).scalars())
        rows = [{"role_id": role_id, "permission": p} for p in NEW_PERMISSIONS if p not in held]
        if rows:
            conn.execute(role_permission.insert(), rows)


def downgrade() -> None:
    conn = op.get_bind()
    plate_only = conn.execute(sa.text("SELECT COUNT(*) FROM vehicle WHERE vin IS NULL")).scalar()
    if plate_only:
        raise RuntimeError(
            f"{plate_only} vehicles have no VIN; give them one (or delete them) before "
            "downgrading below core_0011_plate_only_vehicles")
    conn.execute(role_permission.delete().where(
        role_permission.c.permission.in_(NEW_PERMISSIONS)))
    with op.batch_alter_table('vehicle', schema=None) as batch_op:
        batch_op.alter_column('vin', existing_type=sa.String(length=17), nullable=False)
