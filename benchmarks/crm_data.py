"""Generate a large CRM data set for the lookup and overview benchmarks (crm_lookup.py).

    python benchmarks/crm_data.py --url sqlite:////tmp/carebiz-bench/crm.db --reset
    python benchmarks/crm_data.py --reset \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/carebiz_bench

Default sizes are the target of the CRM: 1,000,000 customers, 1,500,000 vehicles and
10,000,000 timeline entries. What is made:

- 2–5 branches (``--branches``), a company-wide user ``bench_admin``, a sales user
  ``bench_sales`` limited to the first branch, and two staff users per branch;
- customers (``party``): ~82 % people with Chinese names, ~15 % people with English names,
  ~3 % companies; ``name_key`` computed by the platform's own ``parties.name_key``; a valid
  resident ID (people) or unified social credit code (companies) for some; each with one or
  two unique, valid mainland mobile numbers in E.164 (``party_phone``), an e-mail for a
  quarter of them (``party_email``), roles (``party_role``) and a few tags;
- vehicles with unique VINs carrying a correct check digit (``vin_check_digit``), unique
  valid mainland plates (7 characters, 8 for new-energy vehicles; 2 % not yet registered),
  the current ownership of each and a former owner for 5 % (``vehicle_ownership``);
  most people own 0–3 vehicles, companies up to 200;
- a skewed timeline (``timeline_entry``): entry counts per customer follow a Pareto law, so
  most have a handful and a few hundred have thousands (capped at 5,000); entries are written
  in time order as they would accumulate, so one customer's entries are scattered over the
  table as in a real database (not clustered, which would flatter the overview);
- ``--overview`` (default 10, fewer for tiny runs) customers, all in the first branch, with
  exactly 20 vehicles and 2,000 timeline entries for the 360° overview measurement. Their ids
  (and the ten heaviest other customers) are kept with the sizes in the table ``bench_info``.

The schema is created by the platform's migrations (``carebiz.migrate.upgrade``); rows are
then written with SQLAlchemy Core straight through the driver: ``executemany`` on SQLite,
``COPY ... FROM STDIN`` (psycopg ``cursor.copy``) on PostgreSQL. While loading, the secondary
indexes of the big tables are dropped (and, on PostgreSQL, their foreign keys and the VIN
unique constraint) and recreated afterwards from the same model metadata, which is far faster
than maintaining them row by row; on SQLite foreign keys are not enforced and
``journal_mode=OFF``/``synchronous=OFF`` while loading (a crash leaves a broken file: the
data is generated, not precious), WAL is switched back on at the end. PostgreSQL
re-validates every foreign key when they are added back. The script then checks that the
schema is exactly what the migrations produce, sets the sequences, and runs ANALYZE (VACUUM
ANALYZE on PostgreSQL, as autovacuum would have done on a live database).

The same ``--seed`` and sizes give the same rows on either database, whatever ``--batch``.
"""

from __future__ import annotations

import abc
import argparse
import bisect
import datetime as dt
import json
import math
import os
import random
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BIG_TABLES = ("party", "party_name_part", "party_phone", "party_email", "party_role",
              "party_tag", "vehicle", "vehicle_ownership", "timeline_entry")

START = dt.datetime(2016, 1, 1)  # the dealer's records begin here …
END = dt.datetime(2026, 11, 1)   # … and end here (fixed, so runs are reproducible)
SPAN = int((END - START).total_seconds())
DAYS = [(START.date() + dt.timedelta(days=d)).isoformat() for d in range(SPAN // 86400 + 400)]

# --- reference data --------------------------------------------------------------------------

#: code, name, province, city, district, plate province, plate letter, postal code,
#: resident ID region code (used for people born 1985 and later)
BRANCHES = [
    ("BJ01", "北京朝阳店 Beijing Chaoyang", "北京市", "北京市", "朝阳区", "京", "A", "100020",
     "110105"),
    ("SH01", "上海徐汇店 Shanghai Xuhui", "上海市", "上海市", "徐汇区", "沪", "A", "200030",
     "310104"),
    ("GZ01", "广州天河店 Guangzhou Tianhe", "广东省", "广州市", "天河区", "粤", "A", "510620",
     "440106"),
    ("SZ01", "深圳南山店 Shenzhen Nanshan", "广东省", "深圳市", "南山区", "粤", "B", "518052",
     "440305"),
    ("HZ01", "杭州西湖店 Hangzhou Xihu", "浙江省", "杭州市", "西湖区", "浙", "A", "310012",
     "330106"),
]
#: region codes stdnum accepts for every birth year (older customers born elsewhere)
OLD_REGIONS = ("110105", "110108", "110101", "310101", "310104", "310110")
BRANCH_WEIGHTS = (34, 24, 18, 14, 10)

#: the commonest surnames with their approximate share (percent)
SURNAMES = (("王", 7.1), ("李", 7.0), ("张", 6.4), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1),
            ("黄", 2.2), ("赵", 2.2), ("吴", 2.0), ("周", 1.9), ("徐", 1.3), ("孙", 1.3),
            ("马", 1.1), ("朱", 1.1), ("胡", 1.0), ("郭", 1.0), ("何", 0.9), ("高", 0.9),
            ("林", 0.9), ("罗", 0.8), ("郑", 0.8), ("梁", 0.7), ("谢", 0.6), ("宋", 0.5),
            ("唐", 0.5), ("许", 0.5), ("韩", 0.4), ("冯", 0.4), ("邓", 0.4), ("曹", 0.4),
            ("彭", 0.4), ("曾", 0.4), ("肖", 0.4), ("田", 0.3), ("董", 0.3), ("袁", 0.3),
            ("潘", 0.3), ("于", 0.3), ("蒋", 0.3), ("蔡", 0.3), ("余", 0.3), ("杜", 0.3),
            ("叶", 0.3), ("程", 0.3), ("苏", 0.2), ("魏", 0.2), ("吕", 0.2), ("丁", 0.2),
            ("任", 0.2), ("沈", 0.2), ("欧阳", 0.05), ("司马", 0.01))
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华建国志晓东海燕玲桂英秀兰红梅鹏飞宇浩然"
         "子涵欣怡思雨博文俊嘉梓轩萱婷颖雪琳佳慧晨阳光辉鑫凯斌峰亮宁波欢锋健")
FIRST = ("James", "Emma", "Oliver", "Sophia", "Liam", "Mia", "Noah", "Ava", "Lucas", "Chloe",
         "David", "Hannah", "Peter", "Grace", "Daniel", "Michael", "Sarah", "Thomas", "Laura",
         "Robert", "Anna", "William", "Emily", "John", "Olivia", "Henry", "Lily", "George", "Kate",
         "Jack", "Lucy", "Andrew", "Ruth", "Mark", "Jane", "Paul", "Amy", "Simon", "Helen", "Kevin")
LAST = ("Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Anderson", "Thomas", "Martin",
        "White", "Clarke", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Green", "Baker",
        "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips",
        "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook",
        "Rogers", "Morgan", "Cooper", "Reed")
TRADES = ("顺达", "安吉", "捷运", "鹏程", "华通", "恒信", "远航", "金桥", "宏图", "嘉禾",
          "新航", "永安", "瑞丰", "东方", "长城", "万通", "祥和", "联运", "通达", "盛世")
COMPANY_KINDS = ("物流有限公司", "租车有限公司", "汽车服务有限公司", "出租汽车公司",
                 "网约车服务有限公司", "运输有限公司", "商贸有限公司")
TRADES_EN = ("Sunrise", "Harbour", "Pacific", "Golden", "Dragon", "Silverline", "Orient", "Summit",
             "Evergreen", "Lotus")
COMPANY_KINDS_EN = ("Fleet Services Ltd", "Logistics Co", "Car Rental Ltd", "Trading Co")
STREETS = ("建国路", "人民路", "中山路", "解放路", "长安街", "南京路", "天河路", "深南大道",
           "文三路", "学院路")
#: make, model, WMI, fuel
MODELS = (("大众 Volkswagen", "帕萨特 Passat", "LSV", "petrol"),
          ("大众 Volkswagen", "朗逸 Lavida", "LSV", "petrol"),
          ("丰田 Toyota", "凯美瑞 Camry", "LVG", "hybrid"),
          ("丰田 Toyota", "卡罗拉 Corolla", "LFM", "petrol"),
          ("比亚迪 BYD", "汉 Han EV", "LGX", "bev"),
          ("比亚迪 BYD", "宋PLUS DM-i", "LGX", "phev"),
          ("本田 Honda", "雅阁 Accord", "LHG", "petrol"),
          ("宝马 BMW", "3系 3 Series", "LBV", "petrol"),
          ("奔驰 Mercedes-Benz", "C级 C-Class", "LE4", "petrol"),
          ("特斯拉 Tesla", "Model 3", "LRW", "bev"),
          ("吉利 Geely", "星越L Monjaro", "L6T", "petrol"),
          ("理想 Li Auto", "L7", "LW4", "phev"),
          ("五菱 Wuling", "宏光MINI EV", "LZW", "bev"),
          ("福特 Ford", "全顺 Transit", "LJX", "diesel"))
COLOURS = ("白 White", "黑 Black", "银 Silver", "灰 Grey", "蓝 Blue", "红 Red")
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
YEAR_CODES = {2010: "A", 2011: "B", 2012: "C", 2013: "D", 2014: "E", 2015: "F", 2016: "G",
              2017: "H", 2018: "J", 2019: "K", 2020: "L", 2021: "M", 2022: "N", 2023: "P",
              2024: "R", 2025: "S", 2026: "T"}
PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # 34: A–Z without I and O, digits
NEV_SECOND = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151",
                   "152", "155", "156", "157", "158", "159", "185", "186", "187", "188")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
TAGS = ("VIP", "老客户", "车队", "网约车", "新能源", "投诉")

#: timeline kinds (the core's) and their shares; subjects per kind
KIND_SHARES = (("call", 34), ("visit", 20), ("message", 20), ("note", 10), ("task", 7),
               ("return_visit", 9))
SUBJECTS = {
    "call": ("电话回访 Follow-up call", "来电咨询 Inbound call", "保养提醒 Service reminder"),
    "visit": ("到店看车 Showroom visit", "保养到店 Service visit", "试驾 Test drive"),
    "message": ("微信沟通 WeChat", "短信通知 SMS", "保险续保提醒 Insurance renewal"),
    "note": ("客户备注 Note", "偏好记录 Preference"),
    "task": ("准备报价 Prepare quote", "联系客户 Call back"),
    "return_visit": ("保养后回访 After-service call", "交车回访 After-delivery call"),
}
BODIES = ("客户对服务满意。", "Customer asked about the new model year.",
          "约下周二到店保养。", "Quoted trade-in value; customer will think about it.",
          "提醒年检到期。")
OUTCOMES = ("满意 Satisfied", "已解决 Resolved", "客户未接 No answer", "")

FOLLOWUPS = ("task", "return_visit")


def _bijection(count: int, modulus: int, seed: int) -> tuple[int, int]:
    """Multiplier and offset of ``i -> (a*i + b) % modulus``, a permutation of
    ``range(modulus)``: unique codes that do not look sequential."""
    if count > modulus:
        raise ValueError(f"cannot make {count:,} unique codes out of {modulus:,}")
    rng = random.Random(seed)
    while True:
        a = rng.randrange(modulus // 3, modulus) | 1
        if math.gcd(a, modulus) == 1:
            return a, rng.randrange(modulus)


def _ts(seconds: int) -> str:
    """A moment (seconds after START) in the text form SQLAlchemy stores UTC datetimes in on
    SQLite, which PostgreSQL's COPY reads as a timestamp too."""
    d, s = divmod(seconds, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{DAYS[d]} {h:02d}:{m:02d}:{s:02d}.000000"


def default_overview(customers: int, vehicles: int, entries: int, wanted: int = 10) -> int:
    """How many 20-vehicle/2,000-entry customers fit (all of them at full scale)."""
    return max(0, min(wanted, customers // 20, vehicles // 100, entries // 4000))


# --- the plan: how many vehicles and entries each customer gets -------------------------------

PERSON_ZH, PERSON_EN, ORG = 0, 1, 2


class Plan:
    """Per-customer facts decided up front (so the totals are exact): kind, branch, vehicle
    count and first vehicle id, timeline entry count. Customer ``i`` (0-based) has id i+1."""

    def __init__(self, customers: int, vehicles: int, entries: int, branches: int,
                 overview: int, seed: int) -> None:
        if vehicles < 20 * overview or entries < 2000 * overview:
            raise ValueError("too few vehicles or entries for the overview customers")
        rng = random.Random(seed)
        n = customers
        self.customers, self.vehicles, self.entries = customers, vehicles, entries
        self.branches = branches
        self.special = [(2 * k + 1) * n // (2 * overview) for k in range(overview)]
        special = set(self.special)
        weights = BRANCH_WEIGHTS[:branches]
        kinds = bytearray(n)
        branch = bytearray(n)
        vcount = array("I", bytes(4 * n))
        for i in range(n):
            r = rng.random()
            kinds[i] = ORG if r < 0.03 else PERSON_EN if r < 0.18 else PERSON_ZH
            branch[i] = rng.choices(range(branches), weights)[0]
            if kinds[i] == ORG:
                vcount[i] = min(200, int(rng.paretovariate(1.3) * 2))
            else:
                r = rng.random()
                vcount[i] = 0 if r < 0.15 else 1 if r < 0.85 else 2 if r < 0.97 else 3
        for k, i in enumerate(self.special):
            kinds[i] = ORG if k % 2 == 0 else PERSON_ZH
            branch[i] = 0
            vcount[i] = 20
        others = [i for i in range(n) if i not in special]
        self._adjust(rng, vcount, others, vehicles - sum(vcount), cap=200)
        vstart = array("I", bytes(4 * n))
        next_id = 1
        for i in range(n):
            vstart[i] = next_id
            next_id += vcount[i]
        # entries: Pareto weights, scaled to the total and capped, then topped up at random
        ecount = array("I", bytes(4 * n))
        rest = entries - 2000 * overview
        cap = max(1, min(5000, rest))
        weight = [rng.paretovariate(1.3) for _ in others]
        scale = rest / sum(weight) if weight else 0
        for i, w in zip(others, weight, strict=True):
            ecount[i] = min(cap, int(w * scale))
        for i in self.special:
            ecount[i] = 2000
        self._adjust(rng, ecount, others, entries - sum(ecount), cap=cap)
        self.kinds, self.branch, self.vcount, self.vstart, self.ecount = (
            kinds, branch, vcount, vstart, ecount)
        heavy = sorted(others, key=lambda i: (-ecount[i], i))[:10]
        self.heaviest = [(i + 1, ecount[i]) for i in heavy]

    @staticmethod
    def _adjust(rng: random.Random, counts: array, pool: list[int], diff: int,
                cap: int) -> None:
        """Add or remove ``diff`` units at random among ``pool`` so the total is exact."""
        if diff and not pool:
            raise ValueError("no customers left to take the remaining rows")
        while diff > 0:
            i = pool[rng.randrange(len(pool))]
            if counts[i] < cap:
                counts[i] += 1
                diff -= 1
        while diff < 0:
            i = pool[rng.randrange(len(pool))]
            if counts[i] > 0:
                counts[i] -= 1
                diff += 1


# --- row makers ------------------------------------------------------------------------------

PARTY_COLS = ("id", "kind", "name", "name_key", "name_initials", "gender", "birthday",
              "id_kind", "id_number",
              "source", "province", "city", "district", "street", "postal_code",
              "do_not_contact", "preferred_channel", "notes", "custom", "active",
              "merged_into_id", "created_by", "version", "branch_id", "created_at",
              "updated_at")
PART_COLS = ("party_id", "key")
PHONE_COLS = ("id", "party_id", "e164", "digits_rev", "label", "position")
EMAIL_COLS = ("id", "party_id", "email", "position")
ROLE_COLS = ("party_id", "role")
TAG_COLS = ("party_id", "tag")
VEHICLE_COLS = ("id", "vin", "plate", "plate_key", "vin_rev", "make", "model", "year",
                "colour", "engine_number",
                "fuel_type", "owner_id", "odometer_km", "custom", "notes", "version",
                "branch_id", "created_at", "updated_at")
OWNERSHIP_COLS = ("id", "vehicle_id", "party_id", "since", "until", "note")
ENTRY_COLS = ("id", "party_id", "vehicle_id", "kind", "subject", "body", "occurred_at",
              "due_at", "assignee_id", "status", "outcome", "satisfaction", "ref_type",
              "ref_id", "created_by", "branch_id")


class Codes:
    """Unique identifiers from permutations of counters: phones, VINs, plates, ID numbers."""

    def __init__(self, plan: Plan, seed: int) -> None:
        from stdnum.cn import ric, uscc

        from carebiz.crm.validation import vin_check_digit

        self.vin_check_digit, self.stdnum_ric, self.stdnum_uscc = vin_check_digit, ric, uscc
        n = plan.customers
        self.phone = _bijection(2 * n, 10**8 * len(MOBILE_PREFIXES), seed + 11)
        self.phone_mod = 10**8 * len(MOBILE_PREFIXES)
        self.vin = _bijection(plan.vehicles, 8 * 10**6, seed + 12)
        self.plate = _bijection(plan.vehicles, len(PLATE_CHARS) ** 5, seed + 13)
        self.nev_mod = 2 * len(NEV_SECOND) * 10**4
        self.nev = _bijection(min(plan.vehicles, self.nev_mod), self.nev_mod, seed + 14)
        first, last = dt.date(1960, 1, 1), dt.date(2004, 12, 31)
        self.birth_first, self.birth_days = first, (last - first).days + 1
        self.ric_mod = self.birth_days * 1000
        self.ric = _bijection(n, self.ric_mod, seed + 15)
        self.uscc = _bijection(n, 10**9, seed + 16)
        self.plate_seq = [0] * len(BRANCHES)
        self.nev_seq = [0] * len(BRANCHES)

    def phone_number(self, k: int) -> str:
        """The k-th unique mobile number in E.164."""
        a, b = self.phone
        code = (a * k + b) % self.phone_mod
        prefix, rest = divmod(code, 10**8)
        return f"+86{MOBILE_PREFIXES[prefix]}{rest:08d}"

    def vin_number(self, rng: random.Random, k: int, wmi: str, year: int) -> str:
        a, b = self.vin
        code = (a * k + b) % (8 * 10**6)
        plant, serial = divmod(code, 10**6)
        vds = "".join(rng.choices(VIN_CHARS, k=5))
        body = f"{wmi}{vds}0{YEAR_CODES[year]}{'ABCDEFGH'[plant]}{serial:06d}"
        return body[:8] + self.vin_check_digit(body) + body[9:]

    def plate_number(self, branch: int, nev: bool) -> str:
        b = BRANCHES[branch]
        head = b[5] + b[6]
        if nev and self.nev_seq[branch] < self.nev_mod:
            a, off = self.nev
            code = (a * self.nev_seq[branch] + off) % self.nev_mod
            self.nev_seq[branch] += 1
            df, rest = divmod(code, len(NEV_SECOND) * 10**4)
            second, digits = divmod(rest, 10**4)
            return f"{head}{'DF'[df]}{NEV_SECOND[second]}{digits:04d}"
        a, off = self.plate
        code = (a * self.plate_seq[branch] + off) % len(PLATE_CHARS) ** 5
        self.plate_seq[branch] += 1
        chars = []
        for _ in range(5):
            code, c = divmod(code, len(PLATE_CHARS))
            chars.append(PLATE_CHARS[c])
        return head + "".join(chars)

    def resident_id(self, rng: random.Random, k: int, branch: int) -> tuple[str, str, str]:
        """A valid resident ID number, with the birthday and gender it encodes."""
        a, b = self.ric
        code = (a * k + b) % self.ric_mod
        day, seq = divmod(code, 1000)
        born = self.birth_first + dt.timedelta(days=day)
        region = BRANCHES[branch][8] if born.year >= 1985 else rng.choice(OLD_REGIONS)
        base = f"{region}{born:%Y%m%d}{seq:03d}"
        number = base + self.stdnum_ric.calc_check_digit(base + "0")
        return number, born.isoformat(), "male" if seq % 2 else "female"

    def credit_code(self, k: int, branch: int) -> str:
        a, b = self.uscc
        code = f"91{BRANCHES[branch][8]}{(a * k + b) % 10**9:09d}"
        return code + self.stdnum_uscc.calc_check_digit(code + "0")


# --- loaders ---------------------------------------------------------------------------------


class Loader(abc.ABC):
    """Writes rows to the big tables and puts their indexes back afterwards."""

    def __init__(self, engine: Any, log: Callable[[str], None]) -> None:
        from carebiz.db import Base

        self.engine = engine
        self.log = log
        self.tables = {name: Base.metadata.tables[name] for name in BIG_TABLES}
        self.counts: dict[str, int] = dict.fromkeys(BIG_TABLES, 0)
        self.seconds: dict[str, float] = dict.fromkeys(BIG_TABLES, 0.0)
        self.dropped_indexes: list[Any] = []
        self.dropped_constraints: list[Any] = []
        engine.dispose()
        self.conn = engine.connect()

    def write(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        start = time.perf_counter()
        self._write(table, cols, rows)
        self.seconds[table] += time.perf_counter() - start
        self.counts[table] += len(rows)

    @abc.abstractmethod
    def _write(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Write rows the fastest way the database offers (executemany, COPY)."""

    def drop_indexes(self) -> None:
        from sqlalchemy.schema import DropIndex

        dialect = self.engine.dialect.name
        for table in self.tables.values():
            for index in sorted(table.indexes, key=lambda i: i.name):
                only = getattr(index, "_ddl_if", None)  # an index for one database only
                if only is not None and only.dialect not in (None, dialect):
                    continue
                self.conn.execute(DropIndex(index))
                self.dropped_indexes.append(index)
        self.conn.commit()

    def create_indexes(self) -> None:
        from sqlalchemy.schema import CreateIndex

        for index in self.dropped_indexes:
            start = time.perf_counter()
            self.conn.execute(CreateIndex(index))
            self.conn.commit()
            self.log(f"  index {index.name}: {time.perf_counter() - start:.1f} s")

    def commit(self) -> None:
        self.conn.commit()

    @abc.abstractmethod
    def finish(self) -> None:
        """Restore the database's normal settings and gather its statistics."""


class SQLiteLoader(Loader):
    def __init__(self, engine: Any, log: Callable[[str], None]) -> None:
        super().__init__(engine, log)
        for pragma in ("PRAGMA foreign_keys=OFF", "PRAGMA journal_mode=OFF",
                       "PRAGMA synchronous=OFF", "PRAGMA cache_size=-1000000",
                       "PRAGMA temp_store=MEMORY", "PRAGMA threads=2"):
            self.conn.exec_driver_sql(pragma)
        self.sql: dict[str, str] = {}
        self.drop_indexes()

    def _write(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        sql = self.sql.get(table)
        if sql is None:
            from sqlalchemy import bindparam

            stmt = self.tables[table].insert().values({c: bindparam(c) for c in cols})
            compiled = stmt.compile(dialect=self.engine.dialect)
            assert tuple(compiled.positiontup) == tuple(cols), compiled.positiontup
            sql = self.sql[table] = str(compiled)
        self.conn.exec_driver_sql(sql, rows)  # a list of tuples: cursor.executemany

    def finish(self) -> None:
        self.conn.commit()
        self.create_indexes()
        start = time.perf_counter()
        self.conn.exec_driver_sql("ANALYZE")
        self.conn.commit()
        self.log(f"  ANALYZE: {time.perf_counter() - start:.1f} s")
        self.conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        self.conn.close()
        self.engine.dispose()


class PostgresLoader(Loader):
    def __init__(self, engine: Any, log: Callable[[str], None]) -> None:
        super().__init__(engine, log)
        self.raw = self.conn.connection.driver_connection
        self.conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        self.conn.exec_driver_sql("SET synchronous_commit = off")
        self.drop_constraints()
        self.drop_indexes()

    def drop_constraints(self) -> None:
        from sqlalchemy import ForeignKeyConstraint, UniqueConstraint
        from sqlalchemy.schema import DropConstraint

        for table in self.tables.values():
            for c in sorted(table.constraints, key=lambda c: str(c.name)):
                if isinstance(c, ForeignKeyConstraint | UniqueConstraint):
                    self.conn.execute(DropConstraint(c))
                    self.dropped_constraints.append(c)
        self.conn.commit()

    def _write(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        quote = self.engine.dialect.identifier_preparer.quote
        sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in cols)}) FROM STDIN"
        with self.raw.cursor() as cur, cur.copy(sql) as copy:
            write = copy.write_row
            for row in rows:
                write(row)

    def finish(self) -> None:
        from sqlalchemy import ForeignKeyConstraint
        from sqlalchemy.schema import AddConstraint

        self.conn.commit()
        self.create_indexes()
        # unique constraints first (they build indexes), then foreign keys (each validated)
        ordered = sorted(self.dropped_constraints,
                         key=lambda c: isinstance(c, ForeignKeyConstraint))
        for constraint in ordered:
            start = time.perf_counter()
            self.conn.execute(AddConstraint(constraint))
            self.conn.commit()
            self.log(f"  constraint {constraint.name}: {time.perf_counter() - start:.1f} s")
        for table in ("party", "party_phone", "party_email", "vehicle", "vehicle_ownership",
                      "timeline_entry", "branch", "user_account"):
            self.conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        self.conn.commit()
        self.conn.close()
        start = time.perf_counter()
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        self.log(f"  VACUUM ANALYZE: {time.perf_counter() - start:.1f} s")
        self.engine.dispose()


# --- the generator ---------------------------------------------------------------------------


def reset_database(url: str) -> None:
    """Empty the benchmark database (never the test suite's ``test`` database)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return
    if parsed.database in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to wipe the database {parsed.database!r}")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def bench_info_table() -> Any:
    from sqlalchemy import Column, MetaData, String, Table, Text

    return Table("bench_info", MetaData(), Column("key", String(40), primary_key=True),
                 Column("value", Text, nullable=False))


def read_info(conn: Any) -> dict[str, Any]:
    from sqlalchemy import select

    table = bench_info_table()
    return {k: json.loads(v) for k, v in conn.execute(select(table.c.key, table.c.value))}


def make_app(url: str, instance: str | None = None) -> Any:
    from carebiz import create_app

    return create_app({"CAREBIZ_DATABASE_URL": url,
                       "CAREBIZ_INSTANCE_PATH": instance or tempfile.mkdtemp(
                           prefix="carebiz-bench-"),
                       "CAREBIZ_PLUGINS": "none"})


def _reference_rows(app: Any, branches: int) -> dict[str, Any]:
    """Branches and users through the ORM (a handful of rows); returns their ids."""
    from carebiz.models import Branch, User

    with app.extensions["carebiz"].session_factory() as s:
        rows = []
        for code, name, _prov, city, _dist, _pp, _pl, _postal, _region in BRANCHES[:branches]:
            rows.append(Branch(code=code, name=name, address=city, phone=""))
        s.add_all(rows)
        s.flush()
        admin = User(username="bench_admin", display_name="Benchmark admin",
                     all_branches=True)
        sales = User(username="bench_sales", display_name="Benchmark sales (first branch)",
                     default_branch_id=rows[0].id, branches=[rows[0]])
        s.add_all([admin, sales])
        staff: list[list[int]] = []
        for b in rows:
            people = [User(username=f"bench_staff_{b.code.lower()}_{k}",
                           display_name=f"Staff {b.code} {k}", default_branch_id=b.id,
                           branches=[b]) for k in (1, 2)]
            s.add_all(people)
            s.flush()
            staff.append([u.id for u in people])
        s.flush()
        result = {"branch_ids": [b.id for b in rows], "admin_id": admin.id,
                  "sales_id": sales.id, "staff": staff}
        s.commit()
    return result


def generate(url: str, customers: int = 1_000_000, vehicles: int = 1_500_000,
             entries: int = 10_000_000, seed: int = 20261122, batch: int = 100_000,
             branches: int = 4, overview: int | None = None, reset: bool = False,
             log: Callable[[str], None] = print, instance: str | None = None) -> dict[str, Any]:
    """Create the schema and fill it; returns what ``bench_info`` holds."""
    from sqlalchemy import func, select

    from carebiz import migrate
    from carebiz.crm import search_keys as keys
    from carebiz.crm.models import Party
    from carebiz.crm.services.parties import name_key

    if not 2 <= branches <= len(BRANCHES):
        raise ValueError(f"branches: 2 to {len(BRANCHES)}")
    if overview is None:
        overview = default_overview(customers, vehicles, entries)
    began = time.perf_counter()
    if reset:
        reset_database(url)
    app = make_app(url, instance)
    ext = app.extensions["carebiz"]
    migrate.upgrade(app)
    with ext.engine.connect() as conn:
        if conn.scalar(select(func.count()).select_from(Party.__table__)):
            raise SystemExit("the database holds customers already; use --reset")
    dialect = ext.engine.dialect.name
    log(f"database: {ext.engine.url.render_as_string(hide_password=True)} ({dialect})")
    log(f"sizes: {customers:,} customers, {vehicles:,} vehicles, {entries:,} timeline "
        f"entries, {branches} branches, {overview} overview customers, seed {seed}")

    refs = _reference_rows(app, branches)
    branch_ids, staff = refs["branch_ids"], refs["staff"]
    t0 = time.perf_counter()
    plan = Plan(customers, vehicles, entries, branches, overview, seed)
    codes = Codes(plan, seed)
    log(f"plan: {time.perf_counter() - t0:.1f} s")

    loader: Loader = (SQLiteLoader if dialect == "sqlite" else PostgresLoader)(ext.engine, log)
    rng = random.Random(seed + 1)
    rnd = rng.random
    surnames = [s for s, _w in SURNAMES]
    surname_cum = list(_cumulative(w for _s, w in SURNAMES))
    step = SPAN * 0.95 / max(1, customers)

    # --- phase 1: customers with their phones, e-mails, roles, tags, vehicles, ownerships
    t_phase = time.perf_counter()
    phone_k = email_id = vehicle_id = ownership_id = 0
    buf: dict[str, list[tuple[Any, ...]]] = {t: [] for t in BIG_TABLES if t != "timeline_entry"}
    specials = [i + 1 for i in plan.special]
    former_for_special = [p for p in specials for _ in range(2)]

    def flush() -> None:
        for table, cols in (("party", PARTY_COLS), ("party_name_part", PART_COLS),
                            ("party_phone", PHONE_COLS),
                            ("party_email", EMAIL_COLS), ("party_role", ROLE_COLS),
                            ("party_tag", TAG_COLS), ("vehicle", VEHICLE_COLS),
                            ("vehicle_ownership", OWNERSHIP_COLS)):
            loader.write(table, cols, buf[table])
            buf[table] = []
        loader.commit()

    for i in range(customers):
        pid = i + 1
        kind = plan.kinds[i]
        b = plan.branch[i]
        branch = BRANCHES[b]
        created = int(i * step)
        created_s = _ts(created)
        gender = birthday = id_kind = id_number = None
        if kind == ORG:
            if rnd() < 0.8:
                name = branch[3][:2] + rng.choice(TRADES) + rng.choice(COMPANY_KINDS)
            else:
                name = f"{rng.choice(TRADES_EN)} {rng.choice(COMPANY_KINDS_EN)}"
            if rnd() < 0.6:
                id_kind, id_number = "cn_uscc", codes.credit_code(i, b)
        else:
            if kind == PERSON_ZH:
                surname = surnames[bisect.bisect(surname_cum, rnd() * surname_cum[-1])]
                name = surname + "".join(rng.choices(GIVEN, k=1 if rnd() < 0.3 else 2))
            else:
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            if rnd() < 0.4:
                id_number, birthday, gender = codes.resident_id(rng, i, b)
                id_kind = "cn_resident"
        street = f"{rng.choice(STREETS)}{rng.randrange(1, 300)}号" if rnd() < 0.7 else ""
        buf["party"].append((
            pid, "organization" if kind == ORG else "person", name, name_key(name),
            keys.name_initials(name), gender,
            birthday, id_kind, id_number, "bench", branch[2], branch[3], branch[4], street,
            branch[7], rnd() < 0.03, None, "", "{}", True, None, None, 1, branch_ids[b],
            created_s, created_s))
        buf["party_name_part"] += [(pid, part) for part in keys.name_parts(name)]
        for position in range(2 if rnd() < 0.1 else 1):
            phone_k += 1
            e164 = codes.phone_number(phone_k)
            buf["party_phone"].append((phone_k, pid, e164, keys.digits_reversed(e164),
                                       "mobile", position))
        if rnd() < 0.25:
            email_id += 1
            local = f"customer{pid}" if kind != PERSON_EN else name.lower().replace(" ", ".")
            buf["party_email"].append((email_id, pid, f"{local}.{pid}@example.cn", 0))
        if kind == ORG:
            buf["party_role"] += [(pid, "customer"), (pid, "fleet")]
        else:
            buf["party_role"].append((pid, "customer" if rnd() < 0.8 else "prospect"))
        if rnd() < 0.1:
            buf["party_tag"].append((pid, rng.choice(TAGS)))
        for _ in range(plan.vcount[i]):
            vehicle_id += 1
            make, model, wmi, fuel = MODELS[rng.randrange(len(MODELS))]
            year = rng.randrange(2012, 2026)
            nev = fuel in ("bev", "phev")
            plate = codes.plate_number(b, nev) if rnd() < 0.98 else None
            since = min(created + rng.randrange(0, 86400 * 400), SPAN - 86400)
            vin = codes.vin_number(rng, vehicle_id - 1, wmi, year)
            buf["vehicle"].append((
                vehicle_id, vin, plate, keys.plate_key(plate), keys.vin_reversed(vin), make,
                model, year, rng.choice(COLOURS), "", fuel, pid,
                rng.randrange(1000, 200_000), "{}", "", 1, branch_ids[b], _ts(since),
                _ts(since)))
            if rnd() < 0.05:
                former = (former_for_special.pop() if former_for_special
                          else rng.randrange(1, customers + 1))
                if former != pid:
                    ownership_id += 1
                    first = max(0, since - rng.randrange(86400 * 200, 86400 * 1500))
                    buf["vehicle_ownership"].append((
                        ownership_id, vehicle_id, former, DAYS[first // 86400],
                        DAYS[since // 86400], "过户 Transferred"))
            ownership_id += 1
            buf["vehicle_ownership"].append((ownership_id, vehicle_id, pid,
                                             DAYS[since // 86400], None, ""))
        if pid % batch == 0:
            flush()
            _progress(log, "customers", pid, customers, t_phase)
    flush()
    if customers % batch:
        _progress(log, "customers", customers, customers, t_phase)

    # --- phase 2: the timeline, in time order
    t_phase = time.perf_counter()
    rng = random.Random(seed + 2)
    rnd = rng.random
    order: list[int] = []
    for i in range(customers):
        if plan.ecount[i]:
            order.extend([i] * plan.ecount[i])
    rng.shuffle(order)
    log(f"timeline order: {time.perf_counter() - t_phase:.1f} s")
    kind_table = [k for k, share in KIND_SHARES for _ in range(share)]
    subjects = {k: v for k, v in SUBJECTS.items()}
    every = SPAN / max(1, entries)
    open_from = entries - max(1, entries // 50)  # the newest 2 % of follow-ups are open
    rows: list[tuple[Any, ...]] = []
    vstart, vcount, branch_of = plan.vstart, plan.vcount, plan.branch
    for j in range(entries):
        i = order[j]
        nv = vcount[i]
        vid = vstart[i] + int(rnd() * nv) if nv and rnd() < 0.5 else None
        kind = kind_table[int(rnd() * 100)]
        at = int((j + rnd()) * every)
        b = branch_of[i]
        who = staff[b][j & 1]
        due = assignee = outcome_sat = None
        status, outcome = "done", ""
        if kind in FOLLOWUPS:
            assignee = who
            if j >= open_from:
                status = "open"
                due = _ts(min(at + int(rnd() * 86400 * 14) - 86400 * 2, SPAN + 86400 * 300))
            else:
                due = _ts(max(0, at - int(rnd() * 86400 * 5)))
                status = "cancelled" if rnd() < 0.04 else "done"
                outcome = OUTCOMES[int(rnd() * 4)]
                if kind == "return_visit" and status == "done":
                    outcome_sat = 5 - int(rnd() * rnd() * 5)
        ref_type = ref_id = None
        if rnd() < 0.08:
            ref_type, ref_id = "service_order", f"SO{j + 1:09d}"
        rows.append((j + 1, i + 1, vid, kind, subjects[kind][j % len(subjects[kind])],
                     BODIES[j % 5] if rnd() < 0.2 else "", _ts(at), due, assignee, status,
                     outcome, outcome_sat, ref_type, ref_id, who, branch_ids[b]))
        if len(rows) >= batch:
            loader.write("timeline_entry", ENTRY_COLS, rows)
            loader.commit()
            rows = []
            if (j + 1) % (batch * 10) == 0:
                _progress(log, "timeline entries", j + 1, entries, t_phase)
    loader.write("timeline_entry", ENTRY_COLS, rows)
    loader.commit()
    if entries % (batch * 10):
        _progress(log, "timeline entries", entries, entries, t_phase)
    del order, rows

    for table in BIG_TABLES:
        if loader.counts[table]:
            log(f"  {table:<18} {loader.counts[table]:>12,} rows, insert "
                f"{loader.counts[table] / max(loader.seconds[table], 1e-9):>10,.0f} rows/s")
    t_fin = time.perf_counter()
    log("indexes, constraints, statistics:")
    loader.finish()
    log(f"  done in {time.perf_counter() - t_fin:.1f} s")

    info = {
        "sizes": {"customers": customers, "vehicles": vehicles, "entries": entries,
                  "branches": branches, "seed": seed},
        "rows": loader.counts,
        "overview_party_ids": specials,
        "heaviest_party_ids": [pid for pid, _n in plan.heaviest],
        "heaviest_entry_counts": [n for _pid, n in plan.heaviest],
        "branch_ids": branch_ids, "admin_id": refs["admin_id"], "sales_id": refs["sales_id"],
        "seconds": round(time.perf_counter() - began, 1),
        "generated_on": dt.date.today().isoformat(),
    }
    table = bench_info_table()
    with ext.engine.begin() as conn:
        table.create(conn, checkfirst=True)
        conn.execute(table.delete())
        conn.execute(table.insert(), [{"key": k, "value": json.dumps(v)}
                                      for k, v in info.items()])
    problems = migrate.differences(app, "core")
    if problems:
        raise SystemExit(f"schema differs from the migrations: {problems}")
    log("schema checked: identical to the migrations")
    total = sum(loader.counts.values())
    log(f"total {total:,} rows in {info['seconds']:.0f} s "
        f"({total / info['seconds']:,.0f} rows/s overall)")
    ext.engine.dispose()
    return info


def _cumulative(weights: Any) -> Any:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _progress(log: Callable[[str], None], what: str, done: int, total: int,
              since: float) -> None:
    seconds = time.perf_counter() - since
    log(f"  {what}: {done:,}/{total:,} in {seconds:.0f} s "
        f"({done / max(seconds, 1e-9):,.0f}/s generated and written)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("CAREBIZ_BENCH_URL"),
                        help="SQLAlchemy URL of the benchmark database")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--vehicles", type=int, default=1_500_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--branches", type=int, default=4)
    parser.add_argument("--overview", type=int, default=None,
                        help="customers with 20 vehicles and 2,000 entries (default 10)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--batch", type=int, default=100_000,
                        help="customers (with their rows) or timeline entries per write")
    parser.add_argument("--reset", action="store_true",
                        help="wipe the database first (SQLite file, or PostgreSQL schema)")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("--url is required")
    generate(args.url, args.customers, args.vehicles, args.entries, args.seed, args.batch,
             args.branches, args.overview, args.reset,
             log=lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))
    main()
