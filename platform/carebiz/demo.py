"""Demo data: three branches (Beijing and Shanghai on the mainland, Hong Kong outside it), one
user per built-in role, then every switched-on plugin's own demo records through the
``demo_data`` hook (the CRM's customers, the currency's year of exchange rates …). Safe to run
twice."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from carebiz.models import Branch, User
from carebiz.services.branches import save_branch
from carebiz.services.roles import BUILTIN_ROLES, sync_roles
from carebiz.services.users import create_user

DEMO_PASSWORD = "carebiz-demo"
DEMO_BRANCHES = [
    ("BJ01", "Beijing Chaoyang showroom", "北京市朝阳区东四环中路 88 号", "+861065880000"),
    ("SH01", "Shanghai Pudong service centre", "上海市浦东新区张杨路 500 号", "+862150500000"),
    # outside the mainland: English names, Hong Kong numbers, cross-border plates
    ("HK01", "Hong Kong Kowloon showroom", "368 Nathan Road, Yau Ma Tei, Kowloon",
     "+85223881234"),
]
DEMO_USERS = {  # role -> (username, display name, all branches)
    "admin": ("admin", "System Administrator", True),
    "manager": ("manager", "Wang Fang", True),
    "salesperson": ("sales", "Li Wei", False),
    "service_adviser": ("adviser", "Zhang Min", False),
    "technician": ("tech", "Chen Jie", False),
    "parts_clerk": ("parts", "Liu Yang", False),
    "dispatcher": ("dispatch", "Zhao Lei", False),
    "read_only": ("viewer", "Sun Li", False),
}


def load_demo(app: Flask) -> str:
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        sync_roles(sess, ext.host.collect("permissions"))
        branches = []
        for code, name, address, phone in DEMO_BRANCHES:
            branch = sess.scalar(select(Branch).where(Branch.code == code))
            branches.append(branch or save_branch(sess, None, code=code, name=name,
                                                  address=address, phone=phone))
        users = {}
        for role in BUILTIN_ROLES:
            username, display, everywhere = DEMO_USERS[role]
            user = sess.scalar(select(User).where(User.username == username))
            users[role] = user or create_user(
                sess, username, DEMO_PASSWORD, roles=[role], display_name=display,
                branches=[] if everywhere else [branches[0].code], all_branches=everywhere)
        ext.host.call("demo_data", session=sess, branches=branches, users=users)
        sess.commit()
    names = ", ".join(u[0] for u in DEMO_USERS.values())
    return (f"demo data loaded: {len(branches)} branches, users {names} "
            f"(password: {DEMO_PASSWORD})")
