"""Demo customers and vehicles: a few hundred, in Chinese and English names, with valid
phones, VINs and plates, timeline entries, follow-ups due today and revenue. Deterministic
(seeded) and skipped when demo customers exist already."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.crm.models import Party
from carebiz.crm.services import parties, timeline, value, vehicles
from carebiz.crm.validation import vin_check_digit
from carebiz.db import utcnow

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩"
            "冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
         "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "志强", "晓东", "海燕"]
ENGLISH = ["James Smith", "Emma Johnson", "Oliver Brown", "Sophia Miller",
           "Liam Wilson",
           "Mia Taylor", "Noah Anderson", "Ava Thomas", "Lucas Martin", "Chloe White",
           "David Clarke", "Hannah Lewis", "Peter Walker", "Grace Hall", "Daniel Young"]
COMPANIES = ["北京顺达物流有限公司", "上海安吉租车有限公司", "广州捷运出租汽车公司",
             "Sunrise Fleet Services Ltd", "深圳鹏程网约车服务有限公司", "Harbour Logistics Co"]
MODELS = [("大众 Volkswagen", "帕萨特 Passat", "LSV", "petrol"),
          ("丰田 Toyota", "凯美瑞 Camry", "LVG", "hybrid"),
          ("比亚迪 BYD", "汉 Han EV", "LGX", "bev"),
          ("本田 Honda", "雅阁 Accord", "LHG", "petrol"),
          ("宝马 BMW", "3系 3 Series", "LBV", "petrol"),
          ("特斯拉 Tesla", "Model 3", "LRW", "bev"),
          ("吉利 Geely", "星越L Monjaro", "L6T", "petrol"),
          ("理想 Li Auto", "L7", "LW4", "phev")]
CITIES = [("北京市", "北京市", "朝阳区", "京", "A"), ("北京市", "北京市", "海淀区", "京", "N"),
          ("上海市", "上海市", "浦东新区", "沪", "A"), ("广东省", "广州市", "天河区", "粤", "A")]
PLATE_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
YEAR_CODES = {2016: "G", 2017: "H", 2018: "J", 2019: "K", 2020: "L", 2021: "M", 2022: "N",
              2023: "P", 2024: "R", 2025: "S"}
CUSTOMERS = 300
MOBILE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152",
                   "155", "156", "158", "159", "185", "186", "187", "188", "189"]


def make_vin(rng: random.Random, wmi: str, year: int, serial: int) -> str:
    """A VIN with a correct check digit (9th character)."""
    body = (wmi + "".join(rng.choice(VIN_CHARS) for _ in range(5)) + "0"
            + YEAR_CODES[year] + rng.choice("ABCDEFGH") + f"{serial:06d}")
    return body[:8] + vin_check_digit(body) + body[9:]


def make_plate(rng: random.Random, province: str, letter: str, ev: bool) -> str:
    if ev:
        return province + letter + rng.choice("DF") + f"{rng.randrange(10**5):05d}"
    tail = "".join(rng.choice(PLATE_CHARS) for _ in range(4))
    return province + letter + str(rng.randrange(10)) + tail


def load(session: Session, branches: list[Any], users: dict[str, Any]) -> int:
    """Add the demo customers; return how many (0 when they exist already)."""
    if session.scalar(select(Party.id).where(Party.source == "demo").limit(1)) is not None:
        return 0
    rng = random.Random(20261122)
    now = utcnow()
    sales, adviser = users.get("salesperson"), users.get("service_adviser")
    made = 0
    serial = 1
    for i in range(CUSTOMERS):
        branch = branches[0] if i % 3 else branches[-1]
        province, city, district, plate_prov, plate_letter = CITIES[i % len(CITIES)]
        if i % 25 == 0:
            data = {"kind": "organization", "name": COMPANIES[(i // 25) % len(COMPANIES)]
                    + ("" if i < 150 else f" {i}"), "roles": ["customer", "fleet"]}
        elif i % 7 == 0:
            data = {"kind": "person", "name": ENGLISH[i % len(ENGLISH)] + f" {i}",
                    "roles": ["customer"]}
        else:
            data = {"kind": "person", "roles": ["customer"] if i % 5 else ["prospect"],
                    "name": rng.choice(SURNAMES) + rng.choice(GIVEN)}
        data.update({
            "phones": [rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"],
            "source": "demo", "branch_id": branch.id, "province": province, "city": city,
            "district": district, "tags": rng.sample(["VIP", "车队", "老客户", "网约车",
                                                      "新能源"], k=rng.randrange(0, 3)),
        })
        if i % 4 == 0:
            data["emails"] = [f"customer{i}@example.cn"]
        party = parties.create_party(session, data, allow_duplicates=True)
        made += 1
        for _n in range(3 if data["kind"] == "organization" else (1 if i % 6 else 2)):
            make, model, wmi, fuel = MODELS[rng.randrange(len(MODELS))]
            year = rng.randrange(2016, 2026)
            vehicle = vehicles.create_vehicle(session, {
                "vin": make_vin(rng, wmi, year, serial), "make": make, "model": model,
                "year": year, "fuel_type": fuel, "owner_id": party.id, "branch_id": branch.id,
                "plate": make_plate(rng, plate_prov, plate_letter, fuel in ("bev", "phev")),
                "colour": rng.choice(["白 White", "黑 Black", "银 Silver", "蓝 Blue"]),
                "owner_since": dt.date(year, rng.randrange(1, 13), rng.randrange(1, 28))})
            serial += 1
            km = 0
            for months_ago in (24, 12, 2):
                km += rng.randrange(5_000, 15_000)
                vehicles.record_odometer(session, vehicle, km,
                                         now - dt.timedelta(days=30 * months_ago),
                                         source="service")
        timeline.add_entry(session, party, "visit", subject="到店看车 Showroom visit",
                           occurred_at=now - dt.timedelta(days=rng.randrange(5, 300)),
                           user=sales)
        timeline.add_entry(session, party, "call", subject="电话回访 Follow-up call",
                           occurred_at=now - dt.timedelta(days=rng.randrange(1, 60)),
                           user=adviser)
        if i % 10 == 0:
            assignee = sales if i % 20 else adviser
            timeline.add_entry(session, party, "return_visit",
                               subject="保养后回访 After-service call",
                               due_at=now + dt.timedelta(hours=rng.randrange(-48, 8)),
                               assignee_id=getattr(assignee, "id", None), user=assignee)
        if data["roles"][0] == "customer" and i % 3 == 0:
            value.record_revenue(session, party_id=party.id,
                                 amount=Decimal(rng.randrange(800, 300_000)), currency="CNY",
                                 occurred_on=(now - dt.timedelta(days=rng.randrange(1, 700))
                                              ).date(), source="demo", ref=f"demo-{i}")
    value.refresh_scores(session)
    return made
