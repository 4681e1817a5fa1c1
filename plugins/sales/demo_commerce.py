"""Demo data of the commerce half of sales: stock with aging, a supplier and its purchase
orders, quotations and orders in every state, in the first demo branch.

Everything goes through the services (stock, purchasing, quotations, orders), so the
audit log, the timeline, the core vehicles and the revenue are what real work leaves; only
dates are set back afterwards (a car received 90 days ago), as :mod:`.demo` does for
prospects. Deterministic (fixed Faker seed, fixed serials) and safe to run twice: a branch
that has quotations is left alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.crm.services import parties
from carebiz.crm.validation import vin_check_digit
from carebiz.toolkit import today as business_today

from .models import SalesQuotation, SalesStock
from .services import orders, purchasing, quotations, stock
from .services import prospects as rules

SEED = 1111
#: (make, model, trim, colour, year, cost CNY, list price CNY, WMI) — cars sold in China
CARS = [
    ("大众", "朗逸", "1.5L 自动舒适版", "极地白", 2024, 98000, 119900, "LSVAU2180"),
    ("丰田", "凯美瑞", "2.0E 精英版", "铂金珍珠白", 2024, 168000, 189800, "LVGBE40K0"),
    ("比亚迪", "汉 EV", "610KM 四驱旗舰型", "汉宫红", 2024, 225000, 249800, "LGXCE4CB0"),
    ("本田", "雅阁", "260TURBO 精英版", "星月白", 2024, 152000, 172800, "LHGCV1658"),
    ("日产", "轩逸", "1.6L XL CVT 悦享版", "珍珠白", 2024, 92000, 109900, "LGBH52E09"),
    ("吉利", "星越L", "2.0TD 旗舰型", "琉璃灰", 2024, 142000, 159700, "L6T7944Z0"),
    ("丰田", "RAV4 荣放", "2.0L CVT 两驱风尚版", "冰川银", 2024, 158000, 179800, "LVGD2C8A0"),
    ("大众", "帕萨特", "330TSI 精英版", "曜岩黑", 2024, 172000, 199900, "LSVCD6A40"),
    ("比亚迪", "宋PLUS DM-i", "110KM 旗舰型", "时光灰", 2024, 148000, 169800, "LGXC74C40"),
    ("特斯拉", "Model 3", "后轮驱动版", "冷光银", 2024, 210000, 231900, "LRW3E7EA0"),
]
#: days since each floor car arrived (5–120): fills every bucket of the aging report
AGES = [5, 12, 23, 38, 47, 66, 81, 97, 120]


def vin(wmi: str, serial: int) -> str:
    """A VIN with a correct ISO 3779 check digit: a maker's prefix, model year R (2024),
    and a serial in the 8xxxxx range the other demo loaders do not use."""
    body = f"{wmi[:8]}0R{serial % 10}{800000 + serial:06d}"
    return body[:8] + vin_check_digit(body) + body[9:]


def _car(n: int, serial: int, **extra: Any) -> dict[str, Any]:
    make, model, trim, colour, year, cost, _price, wmi = CARS[n % len(CARS)]
    return {"vin": vin(wmi, serial), "make": make, "model": model, "trim": trim,
            "colour": colour, "year": year, "cost": cost, "currency": "CNY", **extra}


def _price(stock_car: SalesStock) -> int:
    for make, model, _trim, _colour, _year, _cost, price, _wmi in CARS:
        if (make, model) == (stock_car.make, stock_car.model):
            return price
    return int(stock_car.cost * Decimal("1.15"))


def load(session: Session, branch: Any, users: dict[str, Any]) -> None:
    if session.scalar(select(func.count(SalesQuotation.id))
                      .where(SalesQuotation.branch_id == branch.id)):
        return
    seller = users.get("salesperson") or users.get("manager")
    today = business_today()
    fake = Faker("zh_CN")
    fake.seed_instance(SEED)
    supplier = _supplier(session, branch, today)
    floor = _stock(session, branch, today)
    manager = users.get("manager") or seller
    buyers = _customers(session, branch, fake, seller, manager)
    _quotations_and_orders(session, floor, buyers, today)
    del supplier


def _supplier(session: Session, branch: Any, today: dt.date) -> Any:
    """A maker's regional sales company in the ``supplier`` role, one purchase order
    received (two cars now in stock) and one still open."""
    supplier = parties.create_party(session, {
        "kind": "organization", "name": "一汽-大众销售有限责任公司华北区", "roles": ["supplier"],
        "phones": ["+861065908800"], "branch_id": branch.id,
        "province": "北京市", "city": "北京市", "district": "朝阳区"}, allow_duplicates=True)
    received = purchasing.create_purchase_order(session, {
        "supplier_id": supplier.id, "branch_id": branch.id, "currency": "CNY",
        "expected_on": (today - dt.timedelta(days=20)).isoformat(),
        "notes": "季度提车计划 / quarterly allocation",
        "lines": [{"make": "大众", "model": "朗逸", "trim": "1.5L 自动舒适版",
                   "colour": "极地白", "year": 2024, "quantity": 2, "unit_cost": 98000}]})
    line = received.lines[0]
    cars = purchasing.receive(session, received, {"vehicles": [
        {"line_id": line.id, "vin": vin("LSVAU2180", 900 + i), "location": f"A-{i + 1:02d}",
         "inspection_notes": "外观无损，随车工具齐全 / no damage, tools complete"}
        for i in range(2)]})
    for i, car in enumerate(cars):
        car.received_on = today - dt.timedelta(days=18 + i)
    purchasing.pay(session, received, {"amount": 98000})  # one car paid, one still owed
    purchasing.create_purchase_order(session, {
        "supplier_id": supplier.id, "branch_id": branch.id, "currency": "CNY",
        "expected_on": (today + dt.timedelta(days=14)).isoformat(),
        "lines": [{"make": "大众", "model": "帕萨特", "trim": "330TSI 精英版",
                   "colour": "曜岩黑", "year": 2024, "quantity": 3, "unit_cost": 172000}]})
    session.flush()
    return supplier


def _stock(session: Session, branch: Any, today: dt.date) -> list[SalesStock]:
    """Nine cars on the floor aged 5–120 days, one ordered from the factory, one on the
    truck, and one sold wholesale to another dealer (reserved, then sold; awaiting pickup).
    Returns the floor cars, youngest first."""
    floor = []
    for n, age in enumerate(AGES):
        car = stock.create_stock(session, _car(n, n, branch_id=branch.id, status="in_stock",
                                               location=f"B-{n + 1:02d}",
                                               received_on=today - dt.timedelta(days=age)))
        floor.append(car)
    stock.create_stock(session, _car(9, 20, branch_id=branch.id, status="ordered"))
    stock.create_stock(session, _car(2, 21, branch_id=branch.id, status="in_transit"))
    wholesale = stock.create_stock(session, _car(4, 22, branch_id=branch.id,
                                                 received_on=today - dt.timedelta(days=75)))
    stock.move(session, wholesale, "reserve")
    stock.move(session, wholesale, "sell", location="待提车 / awaiting pickup")
    return floor


def _customers(session: Session, branch: Any, fake: Faker, seller: Any, manager: Any
               ) -> list[Any]:
    """Six buyers, Chinese names from Faker's ``zh_CN`` locale, registered as prospects
    from the showroom (the same customers the quotations and orders are for)."""
    buyers = []
    for i in range(6):
        prospect, _created = rules.register_prospect(session, {
            "name": fake.name(), "phone": f"+86137{20000000 + i * 104729:08d}",
            "source": ("walk_in", "referral", "autohome")[i % 3], "branch_id": branch.id,
            "models_of_interest": [CARS[i][1]], "points_of_interest": ["price", "space"],
            "salesperson_id": getattr(seller, "id", None)}, user=manager)
        buyers.append(prospect)
    return buyers


def _lines(car: SalesStock, trade_in: str | None = None, discount: int = 3000
           ) -> list[dict[str, Any]]:
    lines = [{"kind": "vehicle", "description": f"{car.make} {car.model} {car.trim}",
              "amount": _price(car)},
             {"kind": "accessory", "description": "脚垫 + 行车记录仪 / mats and dash cam",
              "amount": 1800},
             {"kind": "fee", "description": "上牌服务费 / registration", "amount": 1500},
             {"kind": "fee", "description": "商业保险 / insurance", "amount": 5200},
             {"kind": "discount", "description": "店庆优惠 / showroom offer",
              "amount": discount}]
    if trade_in:
        lines.append({"kind": "trade_in", "description": trade_in, "amount": 42000})
    return lines


def _quotations_and_orders(session: Session, floor: list[SalesStock], buyers: list[Any],
                           today: dt.date) -> None:
    """Six quotations: an open one with a trade-in, an open one in USD (an export buyer's
    price, no order yet) and four accepted into orders — awaiting payment with the deposit
    outstanding, partly paid, paid and ready for delivery, delivered (the car now the
    customer's, its revenue reported)."""
    quotations.create_quotation(session, {
        "customer_id": buyers[4].customer_id, "stock_id": floor[4].id,
        "lines": _lines(floor[4], trade_in="置换 2015 款 本田 思域 / trade-in Civic 2015")})
    quotations.create_quotation(session, {
        "customer_id": buyers[5].customer_id, "stock_id": floor[5].id, "currency": "USD",
        "lines": [{"kind": "vehicle", "description": f"{floor[5].make} {floor[5].model}",
                   "amount": 23800},
                  {"kind": "fee", "description": "Export documents", "amount": 450}]})
    made = []
    for i in range(4):
        trade_in = "置换 2017 款 大众 宝来 / trade-in Bora 2017" if i == 1 else None
        quote = quotations.create_quotation(session, {
            "customer_id": buyers[i].customer_id, "stock_id": floor[i].id,
            "lines": _lines(floor[i], trade_in=trade_in)})
        made.append(orders.accept_quotation(session, quote, {
            "deposit": 20000,
            "payment_due_on": (today + dt.timedelta(days=10 - 3 * i)).isoformat()}))
    waiting, partly, ready, done = made
    del waiting  # awaiting payment: nothing paid, the whole total outstanding
    orders.add_payment(session, partly, {"amount": 20000, "method": "wechat"})
    for order in (ready, done):
        orders.add_payment(session, order, {"amount": 20000, "method": "card"})
        orders.add_payment(session, order, {"amount": orders.outstanding(order),
                                            "method": "transfer"})
        orders.inspect(session, order, {"passed": True, "notes": "PDI 合格 / PDI passed"})
    orders.register(session, done, {"plate": "京AD12345"})
    orders.deliver(session, done)
    session.flush()
