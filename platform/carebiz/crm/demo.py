"""Demo customers and vehicles that look like a dealership's: a few hundred people and fleets
with real-looking names (Chinese names from Faker's ``zh_CN`` locale for the mainland
branches, English names elsewhere), phone numbers valid for the branch's region (checked with
phonenumbers), addresses in the branch's city, customers registered over the last two years
(so "new customers by month" has months) with timelines, odometer readings and revenue that
follow their registration, and a year of exchange rates. Deterministic (seeded: tests and
screenshots stay stable) and skipped when demo customers exist already."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import phonenumbers
from faker import Faker
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carebiz.crm.models import Party, Vehicle
from carebiz.crm.services import parties, timeline, value, vehicles
from carebiz.crm.validation import vin_check_digit
from carebiz.db import utcnow
from carebiz.models import AuditEntry

SEED = 20261122
CUSTOMERS = 300
#: how far back customers were registered
HISTORY_DAYS = 730
PLATE_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
YEAR_CODES = {2016: "G", 2017: "H", 2018: "J", 2019: "K", 2020: "L", 2021: "M", 2022: "N",
              2023: "P", 2024: "R", 2025: "S", 2026: "T", 2027: "V"}
MAINLAND_MODELS = [("大众 Volkswagen", "帕萨特 Passat", "LSV", "petrol"),
                   ("丰田 Toyota", "凯美瑞 Camry", "LVG", "hybrid"),
                   ("比亚迪 BYD", "汉 Han EV", "LGX", "bev"),
                   ("本田 Honda", "雅阁 Accord", "LHG", "petrol"),
                   ("宝马 BMW", "3系 3 Series", "LBV", "petrol"),
                   ("特斯拉 Tesla", "Model 3", "LRW", "bev"),
                   ("吉利 Geely", "星越L Monjaro", "L6T", "petrol"),
                   ("理想 Li Auto", "L7", "LW4", "phev")]
EXPORT_MODELS = [("Toyota", "Alphard", "JTN", "hybrid"), ("Mercedes-Benz", "E-Class", "WDD",
                                                          "petrol"),
                 ("Tesla", "Model Y", "LRW", "bev"), ("BMW", "X5", "WBA", "petrol"),
                 ("Honda", "Jazz", "JHM", "petrol"), ("BYD", "Atto 3", "LGX", "bev")]


@dataclass(frozen=True)
class Place:
    """Where a branch's customers live: the locale of their names, their address parts and
    the region of their phone numbers and plates."""

    locale: str
    province: str
    city: str
    districts: tuple[str, ...]
    streets: tuple[str, ...]
    phone_region: str
    plate_province: str  # "粤Z…港": Hong Kong cars crossing into the mainland
    plate_letters: str
    models: list[tuple[str, str, str, str]]
    email_domain: str
    tags: tuple[str, ...]

    @property
    def chinese(self) -> bool:
        return self.locale == "zh_CN"


PLACES = {
    "BJ01": Place("zh_CN", "北京市", "北京市",
                  ("朝阳区", "海淀区", "东城区", "西城区", "丰台区", "通州区"),
                  ("建国路", "朝阳北路", "东三环中路", "望京街", "酒仙桥路", "中关村大街",
                   "学院路", "广渠路"), "CN", "京", "ABCEFGHJKLMNPQ", MAINLAND_MODELS,
                  "example.cn", ("VIP", "车队", "老客户", "网约车", "新能源")),
    "SH01": Place("zh_CN", "上海市", "上海市",
                  ("浦东新区", "徐汇区", "静安区", "闵行区", "长宁区", "杨浦区"),
                  ("张杨路", "世纪大道", "浦东南路", "南京西路", "淮海中路", "虹桥路",
                   "锦绣路", "龙阳路"), "CN", "沪", "ABCDEGHJKLMN", MAINLAND_MODELS,
                  "example.cn", ("VIP", "车队", "老客户", "网约车", "新能源")),
    "HK01": Place("en_GB", "Hong Kong", "Kowloon",
                  ("Yau Tsim Mong", "Kowloon City", "Sham Shui Po", "Wong Tai Sin"),
                  ("Nathan Road", "Canton Road", "Argyle Street", "Prince Edward Road West",
                   "Waterloo Road", "Austin Road"), "HK", "粤", "Z", EXPORT_MODELS,
                  "example.com", ("VIP", "Fleet", "Cross-border", "EV")),
}
#: share of the demo customers per branch code (the rest go to the first branch)
SHARES = {"BJ01": 0.45, "SH01": 0.35, "HK01": 0.20}


def make_vin(rng: random.Random, wmi: str, year: int, serial: int) -> str:
    """A VIN with a correct check digit (9th character)."""
    body = (wmi + "".join(rng.choice(VIN_CHARS) for _ in range(5)) + "0"
            + YEAR_CODES[year] + rng.choice("ABCDEFGH") + f"{serial:06d}")
    return body[:8] + vin_check_digit(body) + body[9:]


def make_plate(rng: random.Random, province: str, letter: str, ev: bool) -> str:
    """A mainland plate of that province and authority letter (new-energy for EVs)."""
    if ev:
        return province + letter + rng.choice("DF") + f"{rng.randrange(10**5):05d}"
    tail = "".join(rng.choice(PLATE_CHARS) for _ in range(4))
    return province + letter + str(rng.randrange(10)) + tail


def _cross_border_plate(rng: random.Random) -> str:
    """A Hong Kong car's mainland plate: 粤Z, four letters or digits, then 港."""
    return "粤Z" + "".join(rng.choice(PLATE_CHARS) for _ in range(4)) + "港"


def mobile(rng: random.Random, fake: Faker, region: str, taken: set[str]) -> str:
    """A mobile number valid in ``region`` (phonenumbers says so) that no other demo customer
    has, in E.164."""
    for _attempt in range(50):
        if region == "CN":
            raw = "+86" + fake.phone_number()
        else:  # Hong Kong mobiles: 8 digits starting 5, 6 or 9
            raw = "+852" + rng.choice("569") + f"{rng.randrange(10**7):07d}"
        number = phonenumbers.parse(raw)
        if phonenumbers.is_valid_number(number) and \
                phonenumbers.region_code_for_number(number) == region and raw not in taken:
            taken.add(raw)
            return raw
    raise RuntimeError(f"no valid demo phone number for {region}")  # pragma: no cover


def street(rng: random.Random, place: Place) -> str:
    if place.chinese:
        flat = f" {rng.randrange(1, 30)} 号楼 {rng.randrange(1, 28)}{rng.randrange(1, 5):02d} 室"
        return f"{rng.choice(place.streets)} {rng.randrange(1, 600)} 号" + \
            (flat if rng.random() < 0.6 else "")
    return f"Flat {rng.randrange(1, 30)}{rng.choice('ABCDEFGH')}, " \
           f"{rng.randrange(1, 500)} {rng.choice(place.streets)}"


def registered_at(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """When a customer registered: spread over two years, more of them recently (a growing
    business), in showroom hours."""
    days = HISTORY_DAYS * rng.random() ** 1.3
    moment = now - dt.timedelta(days=days)
    return moment.replace(hour=rng.randrange(1, 11), minute=rng.randrange(60))  # 09–19 CST


def _between(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    span = max((end - start).total_seconds(), 60.0)
    return start + dt.timedelta(seconds=rng.uniform(0, span))


def _branch_for(rng: random.Random, branches: list[Any]) -> Any:
    known = [b for b in branches if b.code in SHARES]
    if not known:
        return branches[0]
    roll, total = rng.random(), 0.0
    for branch in known:
        total += SHARES[branch.code]
        if roll < total:
            return branch
    return known[0]


def load(session: Session, branches: list[Any], users: dict[str, Any]) -> int:
    """Add the demo customers; return how many (0 when they exist already)."""
    if session.scalar(select(Party.id).where(Party.source == "demo").limit(1)) is not None:
        return 0
    from carebiz.currency.demo import load_rates

    load_rates(session)  # revenue in HKD converts at them (idempotent: the hook runs it too)
    rng = random.Random(SEED)
    fakers = {locale: Faker(locale) for locale in {p.locale for p in PLACES.values()}}
    for number, fake in enumerate(fakers.values()):
        fake.seed_instance(SEED + number)
    now = utcnow()
    sales, adviser = users.get("salesperson"), users.get("service_adviser")
    taken: set[str] = set()
    registered: dict[int, dt.datetime] = {}
    serial = 1
    for i in range(CUSTOMERS):
        branch = _branch_for(rng, branches)
        place = PLACES.get(branch.code, PLACES["BJ01"])
        fake = fakers[place.locale]
        created = registered_at(rng, now)
        if i % 25 == 0:
            name = fake.company()
            data = {"kind": "organization", "roles": ["customer", "fleet"],
                    "name": (place.city.removesuffix("市") + name) if place.chinese else name}
        else:
            # given and family name only: English locales add "Dr"/"Ms" to some names
            name = fake.name() if place.chinese else f"{fake.first_name()} {fake.last_name()}"
            data = {"kind": "person", "roles": ["customer"] if i % 5 else ["prospect"],
                    "name": name}
        data.update({
            "phones": [mobile(rng, fake, place.phone_region, taken)], "source": "demo",
            "branch_id": branch.id, "province": place.province, "city": place.city,
            "district": rng.choice(place.districts), "street": street(rng, place),
            "tags": rng.sample(place.tags, k=rng.randrange(0, 3)),
        })
        if i % 4 == 0:
            data["emails"] = [f"{fake.user_name()}{i}@{place.email_domain}"]
        party = parties.create_party(session, data, allow_duplicates=True)
        registered[party.id] = created
        for n in range(3 if data["kind"] == "organization" else (1 if i % 6 else 2)):
            car = _vehicle(session, rng, place, party, branch, created, now, serial, n)
            registered.setdefault(-car.id, created)
            serial += 1
        _timeline(session, rng, party, created, now, i, sales, adviser)
        if data["roles"][0] == "customer" and i % 3 == 0:
            currency = "HKD" if place.phone_region == "HK" else "CNY"
            days = max((now - created).days, 1)
            occurred = (now - dt.timedelta(days=rng.randrange(0, min(days, 360)))).date()
            value.record_revenue(session, party_id=party.id,
                                 amount=Decimal(rng.randrange(800, 300_000)),
                                 currency=currency, occurred_on=occurred, source="demo",
                                 ref=f"demo-{i}")
    _backdate(session, registered)
    value.refresh_scores(session)
    return len([k for k in registered if k > 0])


def _vehicle(session: Session, rng: random.Random, place: Place, party: Party, branch: Any,
             created: dt.datetime, now: dt.datetime, serial: int, n: int) -> Vehicle:
    """One of the customer's cars, owned since their registration or before, serviced since."""
    make, model, wmi, fuel = place.models[rng.randrange(len(place.models))]
    year = rng.randrange(max(2016, created.year - 8), created.year + 1)
    first_day = dt.date(year, 1, 1)
    owned = created.date() if year == created.year else \
        first_day + dt.timedelta(days=rng.randrange(max((created.date() - first_day).days, 1)))
    if place.phone_region == "HK":
        plate = _cross_border_plate(rng) if rng.random() < 0.7 else None
    else:
        plate = make_plate(rng, place.plate_province, rng.choice(place.plate_letters),
                           fuel in ("bev", "phev"))
    vin = make_vin(rng, wmi, year, serial)
    if plate and n == 0 and rng.random() < 0.04:
        vin = ""  # a walk-in's old car known by its plate: the VIN comes later
    car = vehicles.create_vehicle(session, {
        "vin": vin, "make": make, "model": model, "year": year, "fuel_type": fuel,
        "owner_id": party.id, "branch_id": branch.id, "plate": plate,
        "colour": rng.choice(["白 White", "黑 Black", "银 Silver", "蓝 Blue"]
                             if place.chinese else ["White", "Black", "Silver", "Blue"]),
        "owner_since": owned})
    km = rng.randrange(0, 30_000) if owned < created.date() else 0
    start = max(created, now - dt.timedelta(days=HISTORY_DAYS))
    for step in (0.0, 0.5, 0.95):
        km += rng.randrange(3_000, 12_000)
        at = start + (now - start) * step + dt.timedelta(hours=1)
        vehicles.record_odometer(session, car, km, min(at, now), source="service")
    return car


def _timeline(session: Session, rng: random.Random, party: Party, created: dt.datetime,
              now: dt.datetime, i: int, sales: Any, adviser: Any) -> None:
    """The first visit on the day they registered, a follow-up call since, and for some a
    return visit due around today."""
    timeline.add_entry(session, party, "visit", subject="到店看车 Showroom visit",
                       occurred_at=created, user=sales)
    recent = max(created, now - dt.timedelta(days=60))
    timeline.add_entry(session, party, "call", subject="电话回访 Follow-up call",
                       occurred_at=_between(rng, recent, now), user=adviser)
    if i % 10 == 0:
        assignee = sales if i % 20 else adviser
        timeline.add_entry(session, party, "return_visit",
                           subject="保养后回访 After-service call",
                           due_at=now + dt.timedelta(hours=rng.randrange(-48, 8)),
                           assignee_id=getattr(assignee, "id", None), user=assignee)


def _backdate(session: Session, registered: dict[int, dt.datetime]) -> None:
    """Give customers (keys > 0) and vehicles (keys < 0, negated ids) their registration
    time, and their "registered" audit entries the same (the services stamp now)."""
    session.flush()
    for key, when in registered.items():
        model, ident = (Party, key) if key > 0 else (Vehicle, -key)
        session.execute(update(model).where(model.id == ident)
                        .values(created_at=when, updated_at=when)
                        .execution_options(synchronize_session=False))
        entity, event = ("party", "customer.created") if key > 0 else \
            ("vehicle", "vehicle.created")
        session.execute(update(AuditEntry).where(
            AuditEntry.entity_type == entity, AuditEntry.entity_id == str(ident),
            AuditEntry.event == event)
            .values(at=when).execution_options(synchronize_session=False))
