"""The demo city (演示城市): a deterministic, idempotent generator that fills a running platform with a
realistic Guangzhou through the services' own public HTTP APIs, so every event really flows through
Kafka into the other services, exactly as officers, inspectors and supervisors would cause it.

``python -m devstack.demo [--scale 2500] [--seed 2026]`` against the platform of ``./dev run``
(``CHILDCARE_PORT_BASE`` moves the ports; ``--filing-url`` etc. point it anywhere). ``./dev run``
calls it on first start.

What it creates (all names start with 演示 and every identifier is synthetic, but checksum-valid):

* institutions spread over the 178 streets in proportion to each district's 2025 slot target
  (``gz_districts.csv``), every operating model, a 普惠 share near 30%; filing decisions (most
  filed, some returned and resubmitted, some returned, rejected or still pending);
* staff rosters per the class ratios (1:3, 1:5, 1:7; mixed 1:5) with a principal and a health worker,
  most carers certified, the principals trained 60 hours but two in 天河区 40; the year's annual
  reports, a few missing (they become overdue later);
* inspectors per district; two random plans, each witnessed by two independent observers (监督员) who
  commit before the plan's commit and reveal after its reveal time (the demo platform shortens the
  24 h delay with INSPECTION_DRAW_REVEAL_DELAY_SECONDS, and the demo says so), then drawn: the first
  inspected completely (findings, violations of every severity, review and publication 一公开,
  rectification and a follow-up), the second under way;
* the day's work concentrated in 天河区 (``WORKLOAD_DISTRICT``), so that its district supervisor
  (``demo-supervisor-440106``) has something in every queue the demo can produce: a roster one carer
  short and a health certificate about to expire, a key-field change awaiting its decision, a parent's
  complaint of child abuse that the supervisor turns into a targeted inspection which confirms it
  (the institution on the serious-dishonesty list, the abuser banned from the industry, 从业禁止),
  an inspection on referral whose violations wait for their rectification (one reported and waiting
  for its follow-up, with a credit repair applied for), another waiting for review, a complaint not
  yet triaged and the district's next random plan, still a draft, whose window opens in two weeks;
* a credit repair (信用修复) of a minor violation.

Deterministic: the same seed and scale give the same institutions, people and scenarios (the draws
themselves use the inspection service's fresh server seed, by design). Idempotent: every step first
looks at what the APIs already hold (existing codes, statuses, rosters, reports, plans, tasks), so a
second run creates nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx

from devstack.boundaries import inside_district
from services.filing.institutions.schemas import CLASS_LIMITS, DOCUMENT_ZH
from services.filing.settings import FilingSettings
from services.filing.staff.service import carer_ratios
from services.filing.staff.training import TRAINING_REQUIREMENTS
from shared.auth import TokenSettings, mint_token
from shared.identifiers import resident_id_check_char, uscc_check_char
from shared.reference import District, Street, districts, streets
from shared.settings import ServiceSettings
from shared.workdays import china_today

DEFAULT_SEED = 2026
DEFAULT_SCALE = 2500
SERVICES = ("filing", "inspection", "credit", "reporting")
_REFERENCE = Path(__file__).resolve().parents[1] / "shared" / "reference_data"

# Approximate centre (lat, lng) and spread (degrees) of each district: the reference data has no
# coordinates, so streets are placed around their district's centre (synthetic, but on the map
# each district lies where it is).
DISTRICT_GEO: dict[str, tuple[float, float, float]] = {
    "440103": (23.105, 113.235, 0.030),  # 荔湾区
    "440104": (23.130, 113.272, 0.014),  # 越秀区
    "440105": (23.090, 113.320, 0.024),  # 海珠区
    "440106": (23.145, 113.355, 0.030),  # 天河区
    "440111": (23.270, 113.290, 0.070),  # 白云区
    "440112": (23.160, 113.470, 0.060),  # 黄埔区
    "440113": (22.960, 113.370, 0.060),  # 番禺区
    "440114": (23.420, 113.230, 0.080),  # 花都区
    "440115": (22.760, 113.530, 0.070),  # 南沙区
    "440117": (23.600, 113.560, 0.100),  # 从化区
    "440118": (23.300, 113.760, 0.100),  # 增城区
}

# operating model -> (weight, organiser type, USCC prefix, name suffix)
MODELS: dict[str, tuple[float, str, str, str]] = {
    "private": (0.44, "enterprise", "91", "托育中心"),
    "public_private": (0.10, "social_service", "52", "普惠托育中心"),
    "public": (0.05, "public_institution", "12", "公办托育园"),
    "employer": (0.07, "employer", "91", "职工托育室"),
    "kindergarten_class": (0.20, "public_institution", "12", "幼儿园托班"),
    "community": (0.09, "social_service", "52", "社区托育点"),
    "family": (0.05, "individual", "92", "家庭托育点"),
}
BRANDS = (
    "小树苗", "小太阳", "童心", "贝贝", "悦童", "启航", "彩虹", "星星", "蒲公英", "爱心",
    "小橡树", "未来星", "乐童", "禾苗", "小海豚", "向日葵", "阳光", "快乐岛", "嘟嘟", "木棉",
)  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程"
GIVEN = "芳敏静丽娟艳霞燕玲婷雪慧颖洁琳欣悦嘉怡宁佳梅兰秀英华红晓琪珊倩雯"
# The filing service's own rules, so that the generated filings follow them as they change: class
# limits, the carers its default settings require per class type, and the filing documents.
CLASS_MAX = {kind: limit for kind, (limit, _) in CLASS_LIMITS.items()}
CARER_RATIO = carer_ratios(FilingSettings.model_construct())
DOCUMENT_KINDS = tuple(DOCUMENT_ZH)
FORCED_OUTCOMES = ("return_then_file", "reject", "return", "pending")
# The district where the demo concentrates the day's work, so that one district supervisor's morning
# list (demo-supervisor-440106 in devstack/oidc/accounts.json) shows every queue the demo produces.
WORKLOAD_DISTRICT = "440106"
# a principal's recorded training: the requirement (WS/T 821—2023 5.2.1, 60 hours); two in 天河 fall short
PRINCIPAL_TRAINING_HOURS = int(next(t.min_hours for t in TRAINING_REQUIREMENTS if t.role == "principal"))
SHORT_PRINCIPAL_TRAINING_HOURS = 40
SHORT_TRAINING_DISTRICT = "440106"
# The draws' independent observers (监督员, docs/draw.md §1.1), named by organisation. Each commits to
# sha256(value || salt) before the plan's commit and reveals after its reveal time. A real observer
# draws its value and salt at random and keeps them; the demo derives them from its seed, so a second
# run can still reveal what the first committed.
OBSERVERS = ("演示：天河区纪委监委派驻纪检监察组", "演示：广州市南方公证处")
# The longest the demo waits for a plan's reveal time: ./dev run shortens the 24 h default with
# INSPECTION_DRAW_REVEAL_DELAY_SECONDS (and the demo says so); a longer delay is waited out by a later run.
MAX_REVEAL_WAIT_SECONDS = 300.0
# people per roster request (the filing API takes at most 100)
ROSTER_CHUNK = 100
# requests in flight: the institutions filed at once (each walks its own steps one after another)
DEFAULT_CONCURRENCY = 16


class DemoError(RuntimeError):
    """The platform answered something the generator cannot continue from."""


# --- the plan: a pure function of (seed, scale, today) ----------------------------------------------


@dataclass(frozen=True)
class StaffPlan:
    name: str  # unique within its institution: the roster is matched by name
    id_number: str
    role: str
    certified: bool
    body: dict[str, Any]


@dataclass(frozen=True)
class InstitutionPlan:
    index: int
    uscc: str
    district_code: str
    street_code: str
    body: dict[str, Any]  # POST /v1/institutions without documents
    outcome: str  # file | return_then_file | return | reject | pending
    staff: tuple[StaffPlan, ...]
    annual_report: dict[str, Any] | None  # None: this one will be missing (overdue later)

    @property
    def files(self) -> bool:
        return self.outcome in ("file", "return_then_file")

    @property
    def total_slots(self) -> int:
        return sum(int(c["size"]) for c in self.body["classes"])


def _allocate(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Largest-remainder apportionment of ``total`` over ``weights``."""
    whole = sum(weights.values())
    exact = {k: total * w / whole for k, w in weights.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (counts[k] - exact[k], k))[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def street_point(street: Street) -> tuple[float, float]:
    """A fixed synthetic centre for a street, inside its district's area (same for every seed)."""
    lat, lng, spread = DISTRICT_GEO[street.district_code]
    rng = random.Random(f"street:{street.code}")
    r, a = spread * math.sqrt(rng.random()), rng.random() * 2 * math.pi
    return lat + r * math.sin(a), lng + r * math.cos(a) / math.cos(math.radians(lat))


def _short(street_name: str) -> str:
    for suffix in ("街道", "镇"):
        if street_name.endswith(suffix) and len(street_name) > len(suffix) + 1:
            return street_name[: -len(suffix)]
    return street_name


def synthetic_uscc(prefix: str, district_code: str, seed: int, index: int) -> str:
    body = f"{prefix}{district_code}MA{seed % 100:02d}{index:05d}"
    return body + uscc_check_char(body)


def synthetic_resident_id(district_code: str, person: int) -> str:
    """Checksum-valid, unique per ``person`` (birth date and sequence are a function of it)."""
    birth = date(1972, 1, 1) + timedelta(days=(person // 1000) * 53 % 10_950 + (person // 1000) // 206)
    body = f"{district_code}{birth:%Y%m%d}{person % 1000:03d}"
    return body + resident_id_check_char(body)


def _classes(rng: random.Random, model: str) -> list[dict[str, Any]]:
    def one(kind: str, low: float = 0.7) -> dict[str, Any]:
        return {"class_type": kind, "size": max(1, round(CLASS_MAX[kind] * rng.uniform(low, 1.0)))}

    if model == "family":
        return [{"class_type": "mixed", "size": rng.randint(3, 5)}]
    if model == "community":
        return [one(rng.choice(("mixed", "toddler")), 0.5) for _ in range(rng.randint(1, 2))]
    if model == "kindergarten_class":
        return [one(rng.choice(("older", "older", "toddler"))) for _ in range(rng.randint(1, 3))]
    if model == "employer":
        return [one(rng.choice(("toddler", "older", "mixed"))) for _ in range(rng.randint(1, 3))]
    low, high = {"public": (3, 6), "public_private": (3, 6)}.get(model, (2, 5))
    return [one(rng.choice(("infant", "toddler", "toddler", "older", "older"))) for _ in range(rng.randint(low, high))]


def _puhui(rng: random.Random, model: str, total: int) -> int:
    if model in ("public", "public_private"):
        return total
    if model == "community":
        return total if rng.random() < 0.7 else 0
    if model == "kindergarten_class":
        return total if rng.random() < 0.15 else 0
    if model == "employer":
        return total // 2 if rng.random() < 0.3 else 0
    if model == "private":
        return round(total * rng.uniform(0.3, 0.6)) if rng.random() < 0.1 else 0
    return 0


def _person_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN) + "（演示）"
        if name not in taken:
            taken.add(name)
            return name


def _staff(
    rng: random.Random,
    plan_index: int,
    district_code: str,
    classes: list[dict[str, Any]],
    today: date,
    principal_hours: int = PRINCIPAL_TRAINING_HOURS,
) -> tuple[StaffPlan, ...]:
    roles = ["principal", "health"]
    carers = sum(math.ceil(c["size"] / CARER_RATIO[c["class_type"]]) for c in classes)
    if rng.random() < 0.03 and carers > 1:
        carers -= 1  # a few are one carer short: a staffing shortfall the inspectors will find
    roles += ["carer"] * carers
    total = sum(c["size"] for c in classes)
    if total >= 30:
        roles += ["security", "cook"]
    taken: set[str] = set()
    people = []
    for j, role in enumerate(roles):
        certified = role != "carer" or rng.random() < 0.86
        certificates = []
        training = []
        if role == "principal":
            certificates.append({"kind": "托育机构负责人岗位培训合格证", "number": f"FZR-DEMO-{plan_index:05d}"})
            training.append(
                {"hours": principal_hours, "date": str(today - timedelta(days=200)), "topic": "托育机构负责人岗位培训"}
            )
        elif role == "health":
            certificates.append({"kind": "托幼机构卫生保健人员培训合格证", "number": f"WB-DEMO-{plan_index:05d}"})
        elif role == "carer" and certified:
            certificates.append(
                {"kind": "保育师证", "number": f"BYS-DEMO-{plan_index:05d}-{j:02d}", "expires_on": "2030-12-31"}
            )
            training.append(
                {
                    "hours": rng.choice((16, 24, 40)),
                    "date": str(today - timedelta(days=90)),
                    "topic": "婴幼儿照护技能培训",
                }
            )
        name = _person_name(rng, taken)
        id_number = synthetic_resident_id(district_code, plan_index * 40 + j)
        body = {
            "name": name,
            "id_number": id_number,
            "role": role,
            "certificates": certificates,
            "health_certificate_expires_on": str(today + timedelta(days=rng.randint(120, 360))),
            "training": training,
            "hired_on": str(today - timedelta(days=rng.randint(30, 900))),
        }
        people.append(StaffPlan(name=name, id_number=id_number, role=role, certified=certified, body=body))
    return tuple(people)


def _annual_report(rng: random.Random, body: dict[str, Any], staff: Sequence[StaffPlan]) -> dict[str, Any] | None:
    if rng.random() < 0.06:
        return None  # missing: overdue after the due date
    enrolment: dict[str, int] = {}
    for c in body["classes"]:
        enrolment[c["class_type"]] = enrolment.get(c["class_type"], 0) + round(c["size"] * rng.uniform(0.6, 1.0))
    roles = Counter(s.role for s in staff)
    incidents = 1 if rng.random() < 0.04 else 0
    fee = body["monthly_fee_yuan"]
    return {
        "enrolment": [{"class_type": k, "children": v} for k, v in enrolment.items()],
        "staff": {
            "carers": roles["carer"],
            "health": roles["health"],
            "principal": roles["principal"],
            "other": roles["security"] + roles["cook"],
        },
        "incidents": {"count": incidents, "descriptions": ["演示：幼儿户外活动轻微擦伤，已处置并告知家长"] * incidents},
        "fees": {
            "monthly_fee_yuan": fee,
            "puhui_monthly_fee_yuan": round(fee * 0.6) if body["puhui_slots"] else None,
        },
    }


def plan_city(seed: int = DEFAULT_SEED, scale: int = DEFAULT_SCALE, today: date | None = None) -> list[InstitutionPlan]:
    """The whole demo city as data. A pure function: the same arguments give the same city."""
    today = today or china_today()
    rng = random.Random(seed)
    all_districts: dict[str, District] = districts()
    per_district = _allocate(scale, {code: d.target_2025 for code, d in all_districts.items()})
    by_district: dict[str, list[Street]] = {}
    for s in streets().values():
        by_district.setdefault(s.district_code, []).append(s)
    model_names = list(MODELS)
    model_weights = [MODELS[m][0] for m in model_names]
    plans: list[InstitutionPlan] = []
    short_training_left = 2
    for code in all_districts:
        own = sorted(by_district[code], key=lambda s: s.code)
        order = own[:]
        rng.shuffle(order)
        weights = [rng.lognormvariate(0, 0.8) for _ in own]
        for k in range(per_district[code]):
            # every street once first (as far as the count allows), then busier streets get more
            street = order[k] if k < len(order) else rng.choices(own, weights)[0]
            index = len(plans)
            r = random.Random(f"{seed}:institution:{index}")
            model = r.choices(model_names, model_weights)[0]
            ordinal = list(all_districts).index(code)
            if k == 0 and ordinal < len(model_names):
                model = model_names[ordinal]  # every operating model, whatever the scale
            _, organiser, prefix, suffix = MODELS[model]
            classes = _classes(r, model)
            total = sum(c["size"] for c in classes)
            lat0, lng0 = street_point(street)
            meals = model not in ("family",) and r.random() < 0.93
            service_types = ["full_day"]
            if model in ("community", "family"):
                service_types = r.sample(["full_day", "half_day", "hourly", "temporary"], 2)
            elif r.random() < 0.3:
                service_types.append(r.choice(["half_day", "hourly", "temporary"]))
            fee_low, fee_high = {
                "public": (1200, 1800),
                "public_private": (1600, 2600),
                "community": (1400, 2400),
                "employer": (1000, 2200),
                "kindergarten_class": (1500, 3500),
                "family": (2500, 4000),
            }.get(model, (3000, 6800))
            body: dict[str, Any] = {
                "uscc": synthetic_uscc(prefix, code, seed, index),
                "name": f"演示{_short(street.name)}{r.choice(BRANDS)}{suffix}",
                "organiser_type": organiser,
                "operating_model": model,
                "service_types": service_types,
                "district": code,
                "street_code": street.code,
                "address": f"广州市{all_districts[code].name}{street.name}演示路{r.randint(1, 300)}号",
                "latitude": round(lat0 + r.gauss(0, 0.004), 6),
                "longitude": round(lng0 + r.gauss(0, 0.004), 6),
                "premises_area_m2": float(total * 8 + r.randint(60, 200)),
                "classes": classes,
                "puhui_slots": _puhui(r, model, total),
                "monthly_fee_yuan": r.randrange(fee_low, fee_high, 100),
                "meals": meals,
                # at least 2 m² a child (托育机构设置标准); a family point may have none. Not drawn from
                # r, so that every other generated value stays what it was
                "outdoor_area_m2": None if model == "family" else float(total * 2 + index % 60),
                # the public record's facts, likewise not drawn from r: hours, and a public number for
                # three in four (a synthetic 020 landline: 8 digits after the area code)
                "opening_hours": ("07:30-18:00", "08:00-17:30", "07:45-18:30")[index % 3],
            }
            # inside the district's real boundary (the 托育地图 draws it; docs/map.md): a point that fell
            # outside moves towards the district's interior, deterministically (no draw from r)
            lat, lng = inside_district(code, body["latitude"], body["longitude"])
            body["latitude"], body["longitude"] = round(lat, 6), round(lng, 6)
            if index % 4:
                body["public_phone"] = f"020-{87_000_000 + index:08d}"
            if body["puhui_slots"] > 0:
                # the 普惠 price, about 60 % of the institution's market fee
                body["puhui_monthly_fee_yuan"] = body["monthly_fee_yuan"] * 6 // 1000 * 100
            outcome = r.choices(
                ["file", "return_then_file", "return", "reject", "pending"], [0.90, 0.03, 0.02, 0.02, 0.03]
            )[0]
            if k == 1 and ordinal < len(FORCED_OUTCOMES):
                outcome = FORCED_OUTCOMES[ordinal]  # every decision path, whatever the scale
            # the first two filed in 天河 have a principal with 40 training hours, below the 60 of WS/T
            # 821—2023 5.2.1 (the queue staff_training_below_requirement); two, so that one stays filed
            # if the draw puts the other under the child-abuse case's suspension. Not drawn from r
            short = code == SHORT_TRAINING_DISTRICT and outcome == "file" and short_training_left > 0
            short_training_left -= short
            staff = _staff(
                r,
                index,
                code,
                classes,
                today,
                principal_hours=SHORT_PRINCIPAL_TRAINING_HOURS if short else PRINCIPAL_TRAINING_HOURS,
            )
            report = _annual_report(r, body, staff)
            plans.append(
                InstitutionPlan(
                    index=index,
                    uscc=body["uscc"],
                    district_code=code,
                    street_code=street.code,
                    body=body,
                    outcome=outcome,
                    staff=staff,
                    annual_report=report,
                )
            )
    return _district_workload(plans, today)


def _district_workload(plans: list[InstitutionPlan], today: date) -> list[InstitutionPlan]:
    """In ``WORKLOAD_DISTRICT``, the first institution that files employs one carer fewer than its
    classes need (a staffing shortfall), and the second's health worker's health certificate expires
    in 12 days (a certificate expiring). Changed after every draw, so nothing else moves."""
    filed = [n for n, p in enumerate(plans) if p.district_code == WORKLOAD_DISTRICT and p.outcome == "file"]
    if filed:
        plan = plans[filed[0]]
        carers = [n for n, s in enumerate(plan.staff) if s.role == "carer"]
        if len(carers) >= 2:
            staff = tuple(s for n, s in enumerate(plan.staff) if n != carers[-1])
            report = plan.annual_report
            if report is not None:
                report = {**report, "staff": {**report["staff"], "carers": report["staff"]["carers"] - 1}}
            plans[filed[0]] = replace(plan, staff=staff, annual_report=report)
    if len(filed) > 1:
        plan = plans[filed[1]]
        expiring = str(today + timedelta(days=12))
        staff = tuple(
            replace(s, body={**s.body, "health_certificate_expires_on": expiring}) if s.role == "health" else s
            for s in plan.staff
        )
        plans[filed[1]] = replace(plan, staff=staff)
    return plans


# --- talking to the platform -------------------------------------------------------------------------


@dataclass
class Actor:
    subject: str
    roles: list[str]
    districts: list[str] | None = None


class Api:
    """The four services' HTTP APIs with minted tokens. ``clients`` may be real HTTP clients or
    clients on in-process ASGI apps (tests)."""

    def __init__(self, clients: Mapping[str, httpx.AsyncClient], token_settings: ServiceSettings) -> None:
        self.clients = clients
        self.token_settings = token_settings
        self._tokens: dict[str, str] = {}
        self.requests = 0

    def headers(self, actor: Actor | None) -> dict[str, str]:
        if actor is None:
            return {}
        key = f"{actor.subject}|{','.join(actor.roles)}|{','.join(actor.districts or [])}"
        if key not in self._tokens:
            self._tokens[key] = mint_token(
                self.token_settings,
                subject=actor.subject,
                roles=actor.roles,
                districts=actor.districts,
                ttl_seconds=12 * 3600,
                name=actor.subject,
            )
        return {"Authorization": f"Bearer {self._tokens[key]}"}

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        actor: Actor | None,
        *,
        expect: Iterable[int] = (200, 201),
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        all_headers = {**self.headers(actor), **(headers or {})}
        for attempt in range(5):
            try:
                response = await self.clients[service].request(
                    method, path, json=json_body, content=content, headers=all_headers, params=params
                )
                break
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                if attempt == 4:
                    raise DemoError(f"{service} {method} {path}: {exc}") from exc
                await asyncio.sleep(0.5 * (attempt + 1))
        self.requests += 1
        if response.status_code not in set(expect):
            raise DemoError(f"{service} {method} {path} → {response.status_code}: {response.text[:500]}")
        return response

    async def json(self, service: str, method: str, path: str, actor: Actor | None, **kw: Any) -> Any:
        return (await self.call(service, method, path, actor, **kw)).json()


async def eventually(
    what: str, check: Callable[[], Awaitable[bool]], *, within: float = 120.0, every: float = 0.25
) -> None:
    """Poll ``check`` until it holds: first every ``every`` seconds, then backing off to 4 × that, so
    a long wait does not load the service whose consumer it waits on."""
    deadline = time.monotonic() + within
    pause = every
    while not await check():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {within:.0f}s waiting for: {what}")
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, every * 4)


class Progress:
    """A progress bar on a terminal (phase, bar, done/total, rate, ETA); on anything else (logs, CI,
    captured output) a plain line at most every ``PLAIN_EVERY`` seconds and at the end."""

    PLAIN_EVERY = 10.0

    def __init__(self, out: TextIO | None, label: str, total: int, *, unit: str = "") -> None:
        self.out, self.label, self.total, self.done, self.unit = out, label, max(total, 0), 0, unit
        self.tty = bool(out is not None and out.isatty())
        self.started = time.monotonic()
        self._last_line = -math.inf
        self._last_bar = -math.inf
        self._draw()

    def step(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def set(self, done: int) -> None:
        """For what is counted by looking (a read model catching up), not by doing."""
        self.done = done
        self._draw()

    def _text(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = f"{left / rate:4.0f}s" if rate > 0 and left > 0 else "   —"
        return f"{self.done}/{self.total}{self.unit}  {rate:6.1f}/s  {elapsed:4.0f}s  剩余约 {eta}"

    def _draw(self) -> None:
        if self.out is None:
            return
        now = time.monotonic()
        fraction = 1.0 if self.total == 0 else min(1.0, self.done / self.total)
        if self.tty:
            if now - self._last_bar < 0.1 and self.done < self.total:
                return  # a terminal redraw per 0.1 s is plenty
            self._last_bar = now
            filled = int(fraction * 30)
            bar = "█" * filled + "░" * (30 - filled)
            print(f"\r\033[K  {self.label:<10}{bar} {self._text()}", end="", file=self.out, flush=True)
        elif now - self._last_line >= self.PLAIN_EVERY:
            self._last_line = now
            print(f"  {self.label:<10}{self._text()}", file=self.out, flush=True)

    def close(self) -> None:
        if self.out is not None:
            seconds = time.monotonic() - self.started
            if self.tty:
                self._last_bar = -math.inf
                self._draw()
                print(f"  ({seconds:.1f}s)", file=self.out, flush=True)
            else:
                print(
                    f"  {self.label:<10}{self.done}/{self.total}{self.unit} done in {seconds:.1f}s",
                    file=self.out,
                    flush=True,
                )


async def bounded(limit: int, items: Sequence[Any], work: Callable[[Any], Awaitable[None]]) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def one(item: Any) -> None:
        async with semaphore:
            await work(item)

    await asyncio.gather(*(one(i) for i in items))


# --- the run ------------------------------------------------------------------------------------------


@dataclass
class Summary:
    """``created``: what this run created; ``present``: what the platform holds afterwards."""

    seed: int
    scale: int
    created: Counter[str] = field(default_factory=Counter)
    present: Counter[str] = field(default_factory=Counter)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    requests: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "scale": self.scale,
            "created": dict(sorted(self.created.items())),
            "present": dict(sorted(self.present.items())),
            "details": self.details,
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
        }


LABELS_ZH: dict[str, str] = {
    "institutions": "托育机构（提交备案）",
    "institutions_filed": "  已备案",
    "institutions_returned": "  退回补正",
    "institutions_rejected": "  不予备案",
    "institutions_submitted": "  待审核",
    "institutions_suspended": "  暂停收托（虐童事件）",
    "slots_filed": "备案托位",
    "puhui_slots_filed": "  其中普惠托位",
    "streets_with_filed": "有备案机构的街镇",
    "decisions": "备案决定",
    "resubmissions": "补正后重新提交",
    "staff": "从业人员（在岗）",
    "annual_reports": "年报（已报送）",
    "annual_reports_missing": "年报（未报送，将逾期）",
    "inspectors": "检查人员",
    "plans": "抽查计划（已抽取）",
    "tasks": "检查任务",
    "tasks_reviewed": "  已审核并公开",
    "tasks_submitted": "  已提交待审核",
    "tasks_in_progress": "  检查中",
    "tasks_assigned": "  待检查",
    "violations": "违规记录",
    "violations_minor": "  轻微",
    "violations_general": "  一般",
    "violations_serious": "  严重",
    "violations_critical": "  特别严重",
    "child_abuse_confirmed": "虐童（已确认）",
    "results_published": "公开检查结果（一公开）",
    "rectifications": "整改报告",
    "follow_ups": "复查任务",
    "credit_repairs": "信用修复（已批准）",
    "banned_persons": "从业禁止人员",
    "ledger_entries": "共享台账条目",
}


def format_summary(summary: Summary) -> str:
    keys = [k for k in LABELS_ZH if k in summary.present or k in summary.created]
    lines = [
        f"演示城市（seed={summary.seed}, scale={summary.scale}）— 用时 {summary.seconds:.0f}s，"
        f"{summary.requests} 次接口调用",
        f"  {'':<24}{'平台现有':>10}{'本次新建':>10}",
    ]
    for key in keys:
        label = LABELS_ZH[key]
        pad = 24 - sum(2 if ord(ch) > 0x2E80 else 1 for ch in label) + len(label)
        present = summary.present.get(key, "—" if key in ("decisions", "resubmissions") else 0)
        lines.append(f"  {label:<{pad}}{present:>10}{summary.created.get(key, 0):>10}")
    phases = summary.details.get("phase_seconds", {})
    if phases:
        lines.append("  各阶段用时：" + "，".join(f"{name} {seconds:.0f}s" for name, seconds in phases.items()))
    return "\n".join(lines)


class Generator:
    def __init__(
        self,
        api: Api,
        *,
        seed: int = DEFAULT_SEED,
        scale: int = DEFAULT_SCALE,
        concurrency: int = DEFAULT_CONCURRENCY,
        out: TextIO | None = sys.stdout,
        propagation_timeout: float = 600.0,
    ) -> None:
        self.api = api
        self.seed = seed
        self.scale = scale
        self.concurrency = concurrency
        self.out = out
        self.timeout = propagation_timeout
        self.today = china_today()
        self.year = self.today.year
        self.summary = Summary(seed=seed, scale=scale)
        self.plans = plan_city(seed, scale, self.today)
        self.supervisor = Actor("demo-supervisor", ["supervisor", "ops"])
        self.credit_officer = Actor("demo-credit-officer", ["credit_officer"])
        # separation of duties (shared/duties.py): a repair is decided by another credit officer
        self.credit_reviewer = Actor("demo-credit-reviewer", ["credit_officer"])
        self.documents: dict[str, str] = {}
        self.ids: dict[str, str] = {}  # uscc -> institution id
        self.status: dict[str, str] = {}  # uscc -> filing status
        self.staff_present: dict[str, set[str]] = {}  # uscc -> names on the roster (active)
        self.reported: set[str] = set()
        self.inspectors: dict[str, dict[str, Any]] = {}  # subject -> inspector
        self.by_id: dict[str, InstitutionPlan] = {}
        self.task_views: dict[str, dict[str, Any]] = {}
        # the district's minor violation whose credit repair is applied for (institution, violation)
        self.district_repair: tuple[str, str] | None = None

    @property
    def progress_out(self) -> TextIO | None:
        """Progress bars go to stderr when the summary goes to stdout (a redirected stdout keeps no
        carriage returns); to ``out`` otherwise, and nowhere when ``out`` is None (tests)."""
        return sys.stderr if self.out is sys.stdout else self.out

    def say(self, text: str) -> None:
        if self.out is not None:
            print(text, file=self.out, flush=True)

    async def phase(self, label: str, work: Awaitable[Any]) -> Any:
        started, requests = time.monotonic(), self.api.requests
        result = await work
        self.summary.details.setdefault("phase_seconds", {})[label] = round(time.monotonic() - started, 1)
        self.summary.details.setdefault("phase_requests", {})[label] = self.api.requests - requests
        return result

    def officer(self, district_code: str) -> Actor:
        return Actor(f"demo-officer-{district_code}", ["filing_officer"], [district_code])

    def reviewer(self, district_code: str) -> Actor:
        """The district's second filing officer, who decides what the first submitted (four eyes)."""
        return Actor(f"demo-reviewer-{district_code}", ["filing_officer"], [district_code])

    async def run(self) -> Summary:
        started = time.monotonic()
        filed_plans = sum(1 for p in self.plans if p.files)
        self.say(f"▶ 演示城市：{len(self.plans)} 家托育机构（约 {filed_plans} 家予以备案），seed={self.seed}")
        await self.phase("documents", self.upload_documents())
        await self.phase("existing", self.load_existing())
        # the inspectors depend on the plan only, not on what filing decided: registered meanwhile
        await self.phase("filing", asyncio.gather(self.file_institutions(), self.register_inspectors()))
        await self.phase("pool", self.wait_for_pool())
        plan_a = await self.phase("plan_a", self.random_plan("a"))
        await self.phase("inspect_a", self.inspect(plan_a, share_done=1.0))
        await self.phase("follow_up", self.rectify_and_follow_up(plan_a))
        plan_b = await self.phase("plan_b", self.random_plan("b"))
        await self.phase("inspect_b", self.inspect(plan_b, share_done=0.4))
        await self.phase("district", self.district_workload())
        await self.phase("credit", self.credit_outcomes())
        await self.phase("count", self.count_present())
        self.summary.seconds = time.monotonic() - started
        self.summary.requests = self.api.requests
        return self.summary

    # --- filing ---------------------------------------------------------------------------------

    async def upload_documents(self) -> None:
        officer = self.officer("440106")

        async def upload(kind: str) -> None:
            pdf = f"%PDF-1.4\n% 演示材料（synthetic demo document）: {kind}\n%%EOF\n".encode()
            out = await self.api.json(
                "filing", "POST", "/v1/documents", officer, content=pdf, headers={"Content-Type": "application/pdf"}
            )
            self.documents[kind] = out["sha256"]

        await asyncio.gather(*(upload(kind) for kind in DOCUMENT_KINDS))

    async def load_existing(self) -> None:
        await self.load_statuses()
        if self.ids:
            self.say(f"  平台已有 {len(self.ids)} 家机构：只补齐缺少的部分")

    async def load_statuses(self) -> None:
        page = 1
        while True:
            out = await self.api.json(
                "filing", "GET", "/v1/institutions", self.supervisor, params={"page": page, "page_size": 100}
            )
            for item in out["items"]:
                self.ids[item["uscc"]] = item["id"]
                self.status[item["uscc"]] = item["status"]
            if page * 100 >= out["total"]:
                break
            page += 1

    def _body(self, plan: InstitutionPlan) -> dict[str, Any]:
        kinds = [k for k in DOCUMENT_KINDS if k != "food_licence" or plan.body["meals"]]
        return {**plan.body, "documents": {k: self.documents[k] for k in kinds}}

    async def file_institutions(self) -> None:
        progress = Progress(self.progress_out, "机构备案", len(self.plans))

        async def one(plan: InstitutionPlan) -> None:
            await self.file_one(plan)
            progress.step()

        await bounded(self.concurrency, self.plans, one)
        progress.close()

    async def _decide(self, plan: InstitutionPlan, decision: str, reason: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        out = await self.api.json(
            "filing",
            "POST",
            f"/v1/institutions/{self.ids[plan.uscc]}/decision",
            self.reviewer(plan.district_code),
            json_body=body,
        )
        self.summary.created["decisions"] += 1
        return dict(out)

    async def file_one(self, plan: InstitutionPlan) -> None:
        officer = self.officer(plan.district_code)
        existed = plan.uscc in self.ids
        if not existed:
            response = await self.api.call(
                "filing", "POST", "/v1/institutions", officer, json_body=self._body(plan), expect=(201, 409)
            )
            if response.status_code == 409:
                raise DemoError(f"{plan.uscc} already filed but not listed; run again")
            self.ids[plan.uscc] = response.json()["id"]
            self.status[plan.uscc] = "submitted"
            self.summary.created["institutions"] += 1
        iid = self.ids[plan.uscc]
        # walk the planned decisions from wherever the institution is
        for _ in range(4):
            status = self.status[plan.uscc]
            if status != "submitted" and not (status == "returned" and plan.outcome == "return_then_file"):
                break
            if status == "returned":
                await self.api.call("filing", "PUT", f"/v1/institutions/{iid}", officer, json_body=self._body(plan))
                self.summary.created["resubmissions"] += 1
                self.status[plan.uscc] = "submitted"
                continue
            if plan.outcome == "pending":
                break
            if plan.outcome == "reject":
                out = await self._decide(plan, "reject", "演示：经核查，场地不符合托育机构设置标准，不予备案")
            elif plan.outcome == "return" or (plan.outcome == "return_then_file" and not await self._resubmitted(iid)):
                out = await self._decide(plan, "return", "演示：消防安全检查合格证明已过期，请补正后重新提交")
            else:
                out = await self._decide(plan, "file", None)
            self.status[plan.uscc] = out["status"]
        if self.status[plan.uscc] != "filed":
            return
        await self.hire_staff(plan, existed)
        await self.annual_report(plan, existed)

    async def _resubmitted(self, iid: str) -> bool:
        out = await self.api.json("filing", "GET", f"/v1/institutions/{iid}", self.supervisor)
        return int(out["submission"]) > 1

    async def hire_staff(self, plan: InstitutionPlan, existed: bool) -> None:
        iid = self.ids[plan.uscc]
        present: set[str] = set()
        if existed:
            roster = await self.api.json(
                "filing", "GET", f"/v1/institutions/{iid}/staff", self.supervisor, params={"include_left": "true"}
            )
            present = {s["name"] for s in roster["items"]}
        # the roster at once (all or none), as an institution registers it: one request, and the
        # staffing assessed once rather than re-flagged on the way with every carer hired
        missing = [person for person in plan.staff if person.name not in present]
        for start in range(0, len(missing), ROSTER_CHUNK):
            chunk = missing[start : start + ROSTER_CHUNK]
            await self.api.call(
                "filing",
                "POST",
                f"/v1/institutions/{iid}/staff/roster",
                self.officer(plan.district_code),
                json_body={"items": [person.body for person in chunk]},
                expect=(201,),
            )
            present.update(person.name for person in chunk)
            self.summary.created["staff"] += len(chunk)
        self.staff_present[plan.uscc] = present

    async def annual_report(self, plan: InstitutionPlan, existed: bool) -> None:
        if plan.annual_report is None:
            return
        iid = self.ids[plan.uscc]
        path = f"/v1/institutions/{iid}/annual-reports/{self.year}"
        if existed:
            response = await self.api.call("filing", "GET", path, self.supervisor, expect=(200, 404))
            if response.status_code == 200:
                self.reported.add(plan.uscc)
                return
        await self.api.call("filing", "POST", path, self.officer(plan.district_code), json_body=plan.annual_report)
        self.reported.add(plan.uscc)
        self.summary.created["annual_reports"] += 1

    # --- inspection -----------------------------------------------------------------------------

    def inspector_plan(self) -> list[dict[str, Any]]:
        per_district = Counter(p.district_code for p in self.plans if p.files)
        people = []
        for code, d in districts().items():
            count = min(8, max(3, round(per_district[code] / 35)))
            rng = random.Random(f"{self.seed}:inspectors:{code}")
            taken: set[str] = set()
            for k in range(1, count + 1):
                people.append(
                    {
                        "subject": f"demo-inspector-{code}-{k:02d}",
                        "name": _person_name(rng, taken),
                        "agency": f"{d.name}卫生健康局",
                        "badge_number": f"GZ-DEMO-{code}-{k:02d}",
                        "districts": [code],
                    }
                )
        return people

    async def register_inspectors(self) -> None:
        existing = await self.api.json("inspection", "GET", "/v1/inspectors", self.supervisor)
        self.inspectors = {i["subject"]: i for i in existing["items"]}
        for body in self.inspector_plan():
            if body["subject"] in self.inspectors:
                continue
            out = await self.api.json("inspection", "POST", "/v1/inspectors", self.supervisor, json_body=body)
            self.inspectors[out["subject"]] = out
            self.summary.created["inspectors"] += 1

    async def wait_for_pool(self) -> None:
        filed = {self.ids[u] for u, s in self.status.items() if s == "filed"}

        progress = Progress(self.progress_out, "检查对象", len(filed))

        async def pool_complete() -> bool:
            out = await self.api.json("inspection", "GET", "/v1/target-institutions", self.supervisor)
            progress.set(len(filed & {i["institution_id"] for i in out["items"]}))
            return progress.done == len(filed)

        self.say("  等待检查服务收到全部备案机构（Kafka 事件）…")
        # the whole pool is read each time: polled gently, not to load the consumer it waits on
        await eventually(
            "the inspection pool to hold every filed institution", pool_complete, within=self.timeout, every=0.5
        )
        progress.close()

    def _plan_body(self, which: str) -> dict[str, Any]:
        filed = sum(1 for s in self.status.values() if s == "filed")
        checklist = _checklist_sample(random.Random(f"{self.seed}:checklist:{which}"))
        if which == "a":
            ratio = min(1.0, max(0.06, 10 / max(filed, 1)))
            # 3 % for A-grade institutions in a real city; a small demo city needs more of them drawn
            # for the plan to show every severity, the abuse case and a clean result
            a_ratio = max(0.03, ratio / 2)
            return {
                "name": f"演示：{self.year}年第三季度全市托育机构“双随机、一公开”抽查",
                "districts": list(districts()),
                "sampling_ratios": {
                    "ungraded": round(ratio, 4),
                    "A": round(a_ratio, 4),
                    "B": round(ratio, 4),
                    "C": 0.3,
                    "D": 1,
                },
                "team_size": 2,
                "window_start": str(self.today - timedelta(days=40)),
                "window_end": str(self.today + timedelta(days=20)),
                "checklist_items": checklist,
            }
        chosen = ["440106", "440111", "440113", "440114"]
        in_scope = sum(1 for u, s in self.status.items() if s == "filed" and u[2:8] in chosen)
        ratio = min(1.0, max(0.08, 8 / max(in_scope, 1)))
        return {
            "name": f"演示：{self.year}年第四季度天河、白云、番禺、花都托育机构专项抽查",
            "districts": chosen,
            "sampling_ratios": {"ungraded": round(ratio, 4), "A": 0.05, "B": round(ratio, 4), "C": 0.3, "D": 1},
            "team_size": 2,
            "window_start": str(self.today),
            "window_end": str(self.today + timedelta(days=60)),
            "checklist_items": checklist,
        }

    async def random_plan(self, which: str) -> dict[str, Any]:
        body = self._plan_body(which)
        plans = await self.api.json("inspection", "GET", "/v1/plans", self.supervisor)
        plan = next((p for p in plans if p["name"] == body["name"]), None)
        if plan is None:
            plan = await self.api.json("inspection", "POST", "/v1/plans", self.supervisor, json_body=body)
            self.summary.created["plans"] += 1
        secrets_of = {self._observer_commitment(which, o): self._observer_secret(which, o) for o in OBSERVERS}
        if plan["status"] == "draft":
            for organisation in OBSERVERS:  # 422 commitment_taken: registered by an earlier run
                commitment = self._observer_commitment(which, organisation)
                await self.api.call(
                    "inspection",
                    "POST",
                    f"/v1/plans/{plan['id']}/observers",
                    self.supervisor,
                    json_body={"organisation": organisation, "commitment": commitment},
                    expect=(201, 422),
                )
            plan = await self.api.json("inspection", "POST", f"/v1/plans/{plan['id']}/commit", self.supervisor)
        if plan["status"] == "committed":
            record = await self.api.json("inspection", "GET", f"/v1/plans/{plan['id']}/draw", self.supervisor)
            witness = record["witness"]
            reveal_at = datetime.fromisoformat(witness["reveal_not_before"].replace("Z", "+00:00"))
            wait = (reveal_at - datetime.now(UTC)).total_seconds()
            if wait > MAX_REVEAL_WAIT_SECONDS:
                raise DemoError(
                    f"抽查计划{which.upper()}的揭示时间为 {reveal_at.isoformat(timespec='seconds')}，"
                    f"请届时再次运行演示（或以 INSPECTION_DRAW_REVEAL_DELAY_SECONDS 缩短演示环境的等待时间）"
                )
            if wait > 0:
                self.say(
                    f"  抽查计划{which.upper()}：监督员已在锁定名单前登记承诺值；演示环境将揭示等待时间缩短为 "
                    f"{wait:.0f} 秒（生产环境默认 24 小时，INSPECTION_DRAW_REVEAL_DELAY_SECONDS），等待揭示时间…"
                )
                await asyncio.sleep(wait + 0.5)
            for observer in witness["observers"]:
                if observer["status"] == "committed":
                    value, salt = secrets_of[observer["commitment"]]
                    await self.api.call(
                        "inspection",
                        "POST",
                        f"/v1/plans/{plan['id']}/observers/{observer['id']}/reveal",
                        self.supervisor,
                        json_body={"value": value, "salt": salt},
                    )
            drawn = await self.api.json(
                "inspection", "POST", f"/v1/plans/{plan['id']}/draw", self.supervisor, json_body={}
            )
            self.summary.created["tasks"] += len(drawn["tasks"])
        record = await self.api.json("inspection", "GET", f"/v1/plans/{plan['id']}/draw", self.supervisor)
        self.say(
            f"  抽查计划{which.upper()}：候选 {len(record['institutions'])} 家、"
            f"检查人员 {len(record['inspectors'])} 名，抽中 {len(record['tasks'])} 家"
            f"（承诺值 {record['commitment'][:12]}…，{len(record['witness']['observers'])} 名监督员揭示后抽取，"
            f"抽取记录已公开：/v1/public/plans/{plan['id']}/draw）"
        )
        return dict(record)

    def _observer_secret(self, which: str, organisation: str) -> tuple[str, str]:
        digest = hashlib.sha256(f"demo-observer:{self.seed}:{which}:{organisation}".encode()).hexdigest()
        return f"演示见证值 {int(digest[:12], 16) % 10**8:08d}", hashlib.sha256(digest.encode()).hexdigest()

    def _observer_commitment(self, which: str, organisation: str) -> str:
        value, salt = self._observer_secret(which, organisation)
        return hashlib.sha256(value.encode("utf-8") + bytes.fromhex(salt)).hexdigest()

    async def task(self, task_id: str) -> dict[str, Any]:
        view = await self.api.json("inspection", "GET", f"/v1/tasks/{task_id}", self.supervisor)
        self.task_views[task_id] = view
        return dict(view)

    def member_actor(self, member: Mapping[str, Any]) -> Actor:
        subject = next(s for s, i in self.inspectors.items() if i["id"] == member["inspector_id"])
        return Actor(subject, ["inspector"])

    async def inspect(self, record: Mapping[str, Any], *, share_done: float) -> None:
        tasks = sorted(record["tasks"], key=lambda t: self._uscc_of(t["institution_id"]))
        views: list[Any] = [None] * len(tasks)

        async def read(k: int) -> None:
            views[k] = await self.task(tasks[k]["task_id"])

        await bounded(self.concurrency, range(len(tasks)), read)  # kept in the order of the tasks
        scenarios = self._scenarios(views, clean_first=share_done < 1.0)
        targets = []
        n = len(views)
        for k, view in enumerate(views):
            # plan B is under way: reviewed, submitted, in progress, assigned, in that order
            if share_done >= 1.0 or k < math.ceil(n * share_done):
                stage = "reviewed"
            elif k < math.ceil(n * (share_done + 0.2)):
                stage = "submitted"
            elif k < math.ceil(n * (share_done + 0.4)):
                stage = "in_progress"
            else:
                stage = "assigned"
            targets.append((view, scenarios[view["id"]], stage))
        progress = Progress(self.progress_out, "现场检查", len(targets))

        async def one(item: tuple[dict[str, Any], list[tuple[str, str | None]], str]) -> None:
            await self.work_task(*item)
            progress.step()

        await bounded(self.concurrency, targets, one)
        progress.close()

    def _uscc_of(self, institution_id: str) -> str:
        if not self.by_id:
            self.by_id = {self.ids[p.uscc]: p for p in self.plans if p.uscc in self.ids}
        plan = self.by_id.get(institution_id)
        return plan.uscc if plan else institution_id

    def _scenarios(
        self, views: Sequence[Mapping[str, Any]], *, clean_first: bool
    ) -> dict[str, list[tuple[str, str | None]]]:
        """Violations per task (code, person name or None). The first tasks cover every severity;
        the second plan starts with a clean one. (The child-abuse case is not left to the draw: it
        comes from a complaint, ``district_workload``.)"""
        forced: list[list[tuple[str, str | None]]] = [
            [("DISCLOSURE_INCOMPLETE", None)],
            [("PRICE_NOT_MARKED", None), ("DAILY_HEALTH_CHECK_LAPSE", None)],
            [("FIRE_EQUIPMENT_DEFECTIVE", None)],
            [("CCTV_RETENTION_SHORT", None), ("OUTDOOR_TIME_INSUFFICIENT", None)],
            [("CCTV_FOOTAGE_TAMPERED", None)],
        ]
        pool = [
            ("DISCLOSURE_INCOMPLETE", "minor"),
            ("OUTDOOR_TIME_INSUFFICIENT", "minor"),
            ("PRICE_NOT_MARKED", "general"),
            ("DISINFECTION_LAPSE", "general"),
            ("FOOD_SAMPLE_NOT_RETAINED", "general"),
            ("SERVICE_AGREEMENT_MISSING", "general"),
            ("FIRE_EXIT_OBSTRUCTED", "serious"),
            ("CCTV_COVERAGE_INCOMPLETE", "serious"),
            ("STAFF_HEALTH_CERT_MISSING", "serious"),
        ]
        if clean_first:
            # The second plan opens with a clean inspection: its first task is always among the
            # reviewed ones, while the first plan's few tasks (a small city) may all be forced.
            forced.insert(0, [])
        out: dict[str, list[tuple[str, str | None]]] = {}
        drawn: list[str] = []  # tasks whose scenario is rolled, not forced
        for view in views:
            rng = random.Random(f"{self.seed}:scenario:{self._uscc_of(view['institution']['institution_id'])}")
            if forced:
                out[view["id"]] = forced.pop(0)
                continue
            drawn.append(view["id"])
            if rng.random() < 0.6:
                out[view["id"]] = []
            else:
                out[view["id"]] = [(code, None) for code, _ in rng.sample(pool, rng.randint(1, 2))]
        # Which institutions a plan selects depends on the draw's server seed, so the dice above can
        # come up "violations" for every one of them; families should see clean results too.
        if drawn and all(out[task_id] for task_id in drawn):
            out[drawn[-1]] = []
        return out

    async def work_task(self, view: dict[str, Any], scenario: list[tuple[str, str | None]], stage: str) -> None:
        if view["status"] == "reviewed" or stage == "assigned":
            return
        await self._work_task(view, scenario, stage)
        await self.task(view["id"])  # the summary counts the task as it now is

    async def _work_task(self, view: dict[str, Any], scenario: list[tuple[str, str | None]], stage: str) -> None:
        task_id = view["id"]
        members = view["members"]
        lead = self.member_actor(members[0])
        institution = view["institution"]
        if view["status"] in ("assigned", "in_progress"):
            for m in members:
                actor = self.member_actor(m)
                if not any(c["inspector_id"] == m["inspector_id"] for c in view["checkins"]):
                    await self._mobile(
                        "POST",
                        f"/v1/tasks/{task_id}/check-in",
                        actor,
                        f"demo:{task_id}:{actor.subject}:check-in",
                        {"lat": institution["latitude"] + 0.0003, "lng": institution["longitude"] - 0.0002},
                    )
            failing = {_ITEM_FOR_CODE.get(code, "") for code, _ in scenario}
            items = [
                {
                    "item_code": c["item_code"],
                    "result": "fail" if c["item_code"] in failing else "pass",
                    "note": "演示：现场核查发现问题" if c["item_code"] in failing else None,
                }
                for c in view["checklist"]
            ]
            if stage == "in_progress":
                items = items[: max(1, len(items) // 2)]
            answered = {f["item_code"] for f in view["findings"]}
            if not {i["item_code"] for i in items} <= answered:
                await self._mobile(
                    "PUT", f"/v1/tasks/{task_id}/findings", lead, f"demo:{task_id}:findings:{stage}", {"items": items}
                )
            if stage == "in_progress":
                return
            recorded = Counter(v["code"] for v in view["violations"])
            staff_refs = {s["name"]: s["person_ref"] for s in view["staff"]}
            for n, (code, person) in enumerate(scenario):
                if recorded[code]:
                    recorded[code] -= 1
                    continue
                body: dict[str, Any] = {
                    "code": code,
                    "description": _DESCRIPTIONS.get(code, "演示：现场检查发现的问题"),
                }
                if person is not None:
                    body["person_ref"] = staff_refs[person]
                out = await self._mobile(
                    "POST", f"/v1/tasks/{task_id}/violations", lead, f"demo:{task_id}:violation:{n}", body
                )
                self.summary.created["violations"] += 1
                self.summary.created[f"violations_{out['severity']}"] += 1
            view = await self.task(task_id)
            for m in view["members"]:
                if m["signed_at"] is None:
                    actor = self.member_actor(m)
                    await self._mobile(
                        "POST",
                        f"/v1/tasks/{task_id}/submit",
                        actor,
                        f"demo:{task_id}:{actor.subject}:submit:{len(scenario)}",
                        None,
                    )
        if stage == "reviewed":
            await self.api.call("inspection", "POST", f"/v1/tasks/{task_id}/review", self.supervisor, json_body={})
            self.summary.created["results_published"] += 1

    async def _mobile(self, method: str, path: str, actor: Actor, key: str, body: Any) -> Any:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return await self.api.json(
            "inspection",
            method,
            path,
            actor,
            json_body=body,
            headers={"Idempotency-Key": f"demo-{digest}"},
            expect=(200, 201),
        )

    async def rectify_and_follow_up(self, record: Mapping[str, Any]) -> None:
        """The first two confirmed general violations: the institution reports its rectification
        (整改报告) and a follow-up inspection (复查) verifies and closes it."""
        chosen = []
        for t in sorted(record["tasks"], key=lambda t: self._uscc_of(t["institution_id"])):
            view = self.task_views.get(t["task_id"]) or await self.task(t["task_id"])
            for v in view["violations"]:
                if v["severity"] == "general" and v["status"] in ("confirmed", "rectification_reported", "closed"):
                    chosen.append((view, v))
                    break
            if len(chosen) == 2:
                break
        for view, violation in chosen:
            await self.rectify(view, violation)

    async def rectify(self, view: Mapping[str, Any], violation: Mapping[str, Any]) -> None:
        """The institution reports its rectification of ``violation`` and a follow-up inspection by the
        same team verifies and closes it (each step only if not done yet)."""
        if violation["status"] == "confirmed":
            await self.api.call(
                "inspection",
                "POST",
                f"/v1/violations/{violation['id']}/rectification",
                self.supervisor,
                json_body={"evidence_sha256": [self.documents["premises_proof"]]},
            )
            self.summary.created["rectifications"] += 1
        lead = self.member_actor(view["members"][0])
        mine = await self.api.json("inspection", "GET", "/v1/me/tasks", lead)
        follow = next(
            (
                t
                for t in mine["items"]
                if t["kind"] == "targeted"
                and str(t["reason"] or "").startswith("follow_up")
                and violation["title_zh"] in str(t["reason"])
                and t["institution"]["institution_id"] == violation["institution_id"]
            ),
            None,
        )
        if follow is None and violation["status"] == "closed":
            return
        if follow is None:
            follow = await self.api.json(
                "inspection",
                "POST",
                "/v1/targeted-inspections",
                self.supervisor,
                json_body={
                    "institution_id": violation["institution_id"],
                    "inspector_ids": [m["inspector_id"] for m in view["members"]],
                    "reason": "follow_up",
                    "reason_detail": f"演示：复查“{violation['title_zh']}”整改情况",
                    "due_by": str(self.today + timedelta(days=10)),
                    "checklist_items": [_ITEM_FOR_CODE.get(violation["code"], view["checklist"][0]["item_code"])],
                    "follow_up_of": violation["id"],
                },
            )
            self.summary.created["follow_ups"] += 1
            self.summary.created["tasks"] += 1
        fview = await self.task(follow["id"])
        if fview["status"] in ("assigned", "in_progress"):
            items = [{"item_code": c["item_code"], "result": "pass"} for c in fview["checklist"]]
            await self._mobile(
                "PUT", f"/v1/tasks/{follow['id']}/findings", lead, f"demo:{follow['id']}:findings", {"items": items}
            )
            for m in fview["members"]:
                actor = self.member_actor(m)
                await self._mobile(
                    "POST",
                    f"/v1/tasks/{follow['id']}/submit",
                    actor,
                    f"demo:{follow['id']}:{actor.subject}:submit",
                    None,
                )
            fview = await self.task(follow["id"])
        if fview["status"] == "submitted":
            await self.api.call(
                "inspection",
                "POST",
                f"/v1/tasks/{follow['id']}/review",
                self.supervisor,
                json_body={"follow_up_rectified": True},
            )
            self.summary.created["results_published"] += 1
            await self.task(follow["id"])
        await self.task(view["id"])  # the original violation is now rectified or closed

    # --- the district's workload (WORKLOAD_DISTRICT) -----------------------------------------------

    def district_supervisor(self) -> Actor:
        """The district's supervisor (科室负责人): triages its complaints, orders and reviews its
        inspections; the account demo-supervisor-440106 of the local OIDC provider."""
        return Actor(f"demo-supervisor-{WORKLOAD_DISTRICT}", ["supervisor"], [WORKLOAD_DISTRICT])

    def _workload_institutions(self) -> list[InstitutionPlan]:
        """The district's filed institutions in plan order (the first two carry the roster's shortfall,
        certificate and training cases, ``plan_city``); the abuse case goes to the last one."""
        return [
            p
            for p in self.plans
            # filed by the demo (since then the abuse case's institution is suspended: still the same places)
            if p.district_code == WORKLOAD_DISTRICT and p.outcome == "file" and p.uscc in self.ids
        ]

    async def district_workload(self) -> None:
        """Every queue the demo can produce, in one district, through the same APIs as the rest: what
        happened today in 天河区 (dates are relative to today, so nothing here is overdue yet: a filing
        decision, a rectification, an annual report or an unlicensed operator's step falls overdue only
        when its date has passed, which a demo made today cannot show)."""
        places = self._workload_institutions()
        if len(places) < 5:
            return  # a city too small to hold the district's day (the smallest tested scale has 5)
        team = [
            i["id"] for s, i in sorted(self.inspectors.items()) if s.startswith(f"demo-inspector-{WORKLOAD_DISTRICT}-")
        ]
        await self.key_field_change(places[1])
        await self.complaint_inspection(
            places[-1],
            team[:2],
            category="abuse",
            description="演示：家长反映孩子午睡后手臂有多处淤青，孩子说被老师打了，怀疑保育人员打骂幼儿",
            scenario="CHILD_ABUSE",
        )
        referral = "演示：消防救援大队转来：该机构午休室安全出口被杂物堵塞，合同未约定服务内容"
        await self.targeted_inspection(
            places[2], team[1:3], referral, [("DISCLOSURE_INCOMPLETE", None), ("SERVICE_AGREEMENT_MISSING", None)]
        )
        await self.targeted_inspection(
            places[3], team[:2], "演示：街道办转来群众反映：疏散通道堆放杂物", [("FIRE_EXIT_OBSTRUCTED", None)]
        )
        await self.complaint(places[3], "fees", "演示：家长反映机构在公示收费之外每月另收材料费300元，未签书面协议")
        await self.draft_plan()

    async def key_field_change(self, plan: InstitutionPlan) -> None:
        """The institution asks to file a larger premises after building work (a key field: it waits for
        the reviewer's decision)."""
        iid = self.ids[plan.uscc]
        current = await self.api.json("filing", "GET", f"/v1/institutions/{iid}", self.supervisor)
        if current["pending_change"] is not None or current["premises_area_m2"] != plan.body["premises_area_m2"]:
            return
        await self.api.call(
            "filing",
            "POST",
            f"/v1/institutions/{iid}/changes",
            self.officer(plan.district_code),
            json_body={"premises_area_m2": plan.body["premises_area_m2"] + 60.0},
        )
        self.summary.created["changes"] += 1

    async def _listed_complaint(self, plan: InstitutionPlan, description: str) -> dict[str, Any] | None:
        page = 1
        while True:
            out = await self.api.json(
                "inspection",
                "GET",
                "/v1/complaints",
                self.supervisor,
                params={"district": plan.district_code, "page": page, "page_size": 100},
            )
            found = next((c for c in out["items"] if c["description"] == description), None)
            if found is not None:
                return dict(found)
            if page * 100 >= out["total"]:
                return None
            page += 1

    async def complaint(self, plan: InstitutionPlan, category: str, description: str) -> dict[str, Any]:
        """A parent's complaint about the institution on the public form (anonymous), once."""
        found = await self._listed_complaint(plan, description)
        if found is not None:
            return found
        await self.api.call(
            "inspection",
            "POST",
            "/v1/public/complaints",
            None,
            json_body={"institution_id": self.ids[plan.uscc], "category": category, "description": description},
        )
        self.summary.created["complaints"] += 1
        # listed once more, not posted again: a complaint the listing never shows is an error, not a loop
        found = await self._listed_complaint(plan, description)
        if found is None:
            raise DemoError(f"{plan.uscc}: the complaint just posted is not in the district's complaint list")
        return found

    async def complaint_inspection(
        self, plan: InstitutionPlan, team: list[str], *, category: str, description: str, scenario: str
    ) -> None:
        """A complaint the district supervisor triages into a targeted inspection, which finds what was
        complained of (against a carer on the roster) and is reviewed and published."""
        complaint = await self.complaint(plan, category, description)
        if complaint["status"] == "received":
            complaint = await self.api.json(
                "inspection",
                "POST",
                f"/v1/complaints/{complaint['id']}/triage",
                self.district_supervisor(),
                json_body={
                    "action": "targeted_inspection",
                    "reason": "演示：涉嫌虐童，立即组织定向检查并调取监控录像",
                    "public_reply": "已受理，已安排现场检查，处理结果将依法公开",
                    "inspector_ids": team,
                    "due_by": str(self.today + timedelta(days=3)),
                    "checklist_items": [_ITEM_FOR_CODE[scenario]],
                },
            )
            self.summary.created["tasks"] += 1
        view = await self.task(complaint["task_id"])
        carer = next((s["name"] for s in view["staff"] if s["role"] == "carer"), None)
        if carer is None:
            raise DemoError(f"{plan.uscc}: task {view['id']} lists no carer on the roster to name in the finding")
        reviewed_now = view["status"] != "reviewed"
        view = await self._finish(view, [(scenario, carer)], reviewed=True)
        if reviewed_now and any(v["code"] == "CHILD_ABUSE" for v in view["violations"]):
            iid = self.ids[plan.uscc]

            async def suspended() -> bool:
                out = await self.api.json("filing", "GET", f"/v1/institutions/{iid}", self.supervisor)
                return bool(out["status"] == "suspended")

            self.say("  等待备案服务暂停该机构收托（虐童事件经确认）…")
            await eventually("the institution suspended (暂停收托)", suspended, within=self.timeout)

    async def targeted_inspection(
        self, plan: InstitutionPlan, team: list[str], detail: str, scenario: list[tuple[str, str | None]]
    ) -> None:
        """An inspection on referral (转办). With two violations, the first (minor) is rectified and
        waits for its follow-up, with a credit repair applied for; otherwise it waits for review."""
        iid = self.ids[plan.uscc]
        lead = next(s for s, i in self.inspectors.items() if i["id"] == team[0])
        mine = await self.api.json("inspection", "GET", "/v1/me/tasks", Actor(lead, ["inspector"]))
        task = next(
            (
                t
                for t in mine["items"]
                if t["institution"] and t["institution"]["institution_id"] == iid and detail in str(t["reason"])
            ),
            None,
        )
        if task is None:
            task = await self.api.json(
                "inspection",
                "POST",
                "/v1/targeted-inspections",
                self.district_supervisor(),
                json_body={
                    "institution_id": iid,
                    "inspector_ids": team,
                    "reason": "referral",
                    "reason_detail": detail,
                    "due_by": str(self.today + timedelta(days=7)),
                    "checklist_items": sorted({_ITEM_FOR_CODE[code] for code, _ in scenario}),
                },
            )
            self.summary.created["tasks"] += 1
        view = await self.task(task["id"])
        reviewed = len(scenario) > 1
        view = await self._finish(view, scenario, reviewed=reviewed)
        if not reviewed:
            return
        minor = next(v for v in view["violations"] if v["severity"] == "minor")
        if minor["status"] == "confirmed":
            await self.api.call(
                "inspection",
                "POST",
                f"/v1/violations/{minor['id']}/rectification",
                self.district_supervisor(),
                json_body={"evidence_sha256": [self.documents["premises_proof"]]},
            )
            self.summary.created["rectifications"] += 1
            await self.task(view["id"])
        self.district_repair = (iid, minor["id"])

    async def _finish(
        self, view: dict[str, Any], scenario: list[tuple[str, str | None]], *, reviewed: bool
    ) -> dict[str, Any]:
        """The team inspects and signs; the district supervisor reviews and publishes when asked."""
        if view["status"] in ("assigned", "in_progress"):
            await self.work_task(view, scenario, "submitted")
            view = self.task_views[view["id"]]
        if reviewed and view["status"] == "submitted":
            await self.api.call(
                "inspection", "POST", f"/v1/tasks/{view['id']}/review", self.district_supervisor(), json_body={}
            )
            self.summary.created["results_published"] += 1
            view = await self.task(view["id"])
        return view

    async def draft_plan(self) -> None:
        """The district's next random plan, drafted, its window opening in two weeks: still to be
        published (committed) before then."""
        name = f"演示：{self.year}年天河区托育机构消防安全专项抽查"
        plans = await self.api.json("inspection", "GET", "/v1/plans", self.supervisor)
        if any(p["name"] == name for p in plans):
            return
        body = {
            **self._plan_body("b"),
            "name": name,
            "districts": [WORKLOAD_DISTRICT],
            "window_start": str(self.today + timedelta(days=14)),
            "window_end": str(self.today + timedelta(days=74)),
        }
        await self.api.call("inspection", "POST", "/v1/plans", self.district_supervisor(), json_body=body)
        self.summary.created["plans"] += 1

    async def district_repair_pending(self) -> None:
        """The referral's minor violation: the institution applies for a credit repair (信用修复) with
        its rectification report; the decision waits for the follow-up inspection's verification."""
        if self.district_repair is None:
            return
        institution_id, violation_id = self.district_repair
        path = f"/v1/credit/institutions/{institution_id}"

        async def entry() -> dict[str, Any] | None:
            response = await self.api.call("credit", "GET", path, self.credit_officer, expect=(200, 404))
            if response.status_code == 404:
                return None
            record = response.json()
            return next((line for line in record["lines"] if line.get("rule_id") == "violation.minor"), None)

        async def entry_present() -> bool:
            return await entry() is not None

        await eventually("the district's minor violation in the credit record", entry_present, within=self.timeout)
        line = await entry()
        assert line is not None
        record = await self.api.json("credit", "GET", path, self.credit_officer)
        if any(r["entry_id"] == line["entry_id"] for r in record["repairs"]):
            return
        pdf = f"%PDF-1.4\n% 演示：整改报告（synthetic demo document）{violation_id}\n%%EOF\n".encode()
        evidence = await self.api.json(
            "credit",
            "POST",
            f"/v1/credit/entries/{line['entry_id']}/evidence",
            self.credit_officer,
            content=pdf,
            headers={"Content-Type": "application/pdf"},
        )
        await self.api.call(
            "credit",
            "POST",
            "/v1/credit/repairs",
            self.credit_officer,
            json_body={
                "entry_id": line["entry_id"],
                "evidence_sha256": [evidence["sha256"]],
                "commitment": "演示：本机构已在醒目位置公示收费项目和膳食信息，承诺持续依法公示。",
            },
        )
        self.summary.created["credit_repairs_applied"] += 1

    # --- credit ---------------------------------------------------------------------------------

    async def credit_outcomes(self) -> None:
        abuse = [
            (view, v)
            for view in self.task_views.values()
            for v in view["violations"]
            if v["code"] == "CHILD_ABUSE" and v["status"] == "confirmed"
        ]
        if abuse:
            view, violation = abuse[0]
            person_ref = violation["person_ref"]

            async def banned() -> bool:
                out = await self.api.json("credit", "GET", "/v1/credit/lists/industry_ban", self.credit_officer)
                return any(m["subject_id"] == person_ref for m in out["items"])

            self.say("  等待信用服务将虐童责任人列入从业禁止名单…")
            await eventually("the child-abuse person on the industry-ban list", banned, within=self.timeout)
            self.summary.details["banned_person_ref"] = person_ref
        await self.repair_minor()
        await self.district_repair_pending()

    async def repair_minor(self) -> None:
        """信用修复 of the first confirmed minor violation (the policy allows it at once), with the
        separation of duties the credit service enforces: the violation is rectified and closed by a
        follow-up inspection first, the evidence is uploaded for the entry, one credit officer applies
        and another decides."""
        minors = sorted(
            (v["institution_id"], v["id"], view["id"])
            for view in self.task_views.values()
            if view["kind"] == "random"  # the district's own minor violation waits for its follow-up
            for v in view["violations"]
            if v["severity"] == "minor" and v["status"] in ("confirmed", "rectification_reported", "closed")
        )
        if not minors:
            return
        institution_id, violation_id, task_id = minors[0]
        view = self.task_views[task_id]
        violation = next(v for v in view["violations"] if v["id"] == violation_id)
        await self.rectify(view, violation)  # idempotent: also loads its follow-up when already closed
        path = f"/v1/credit/institutions/{institution_id}"

        async def entry_present() -> bool:
            response = await self.api.call("credit", "GET", path, self.credit_officer, expect=(200, 404))
            if response.status_code == 404:
                return False
            return any(line.get("rule_id") == "violation.minor" for line in response.json()["lines"])

        await eventually("the minor violation in the credit record", entry_present, within=self.timeout)
        record = await self.api.json("credit", "GET", path, self.credit_officer)
        line = next(line for line in record["lines"] if line.get("rule_id") == "violation.minor")
        repair = next((r for r in record["repairs"] if r["entry_id"] == line["entry_id"]), None)
        if repair is None:
            pdf = f"%PDF-1.4\n% 演示：整改报告及公示照片（synthetic demo document）{violation_id}\n%%EOF\n".encode()
            evidence = await self.api.json(
                "credit",
                "POST",
                f"/v1/credit/entries/{line['entry_id']}/evidence",
                self.credit_officer,
                content=pdf,
                headers={"Content-Type": "application/pdf"},
            )
            repair = await self.api.json(
                "credit",
                "POST",
                "/v1/credit/repairs",
                self.credit_officer,
                json_body={
                    "entry_id": line["entry_id"],
                    "evidence_sha256": [evidence["sha256"]],
                    "commitment": "演示：本机构已在醒目位置完整公示收费、服务与膳食信息，承诺持续依法公示。",
                },
            )
        if repair["status"] == "pending":
            decision = f"/v1/credit/repairs/{repair['id']}/decision"

            async def approved() -> bool:
                # 409 credit_rectification_open until the credit service has read the closure
                response = await self.api.call(
                    "credit",
                    "POST",
                    decision,
                    self.credit_reviewer,
                    json_body={"decision": "approve", "reason": "演示：已整改到位，符合轻微失信信息修复条件"},
                    expect=(200, 409),
                )
                return response.status_code == 200

            await eventually("the repair approved once the rectification is known", approved, within=self.timeout)
            self.summary.created["credit_repairs"] += 1
        self.summary.present["credit_repairs"] = 1
        self.summary.details["repaired_violation_id"] = violation_id

    # --- what the platform holds now ---------------------------------------------------------------

    async def count_present(self) -> None:
        present = self.summary.present
        self.summary.details["year"] = self.year
        # as the platform holds them now: the child-abuse case suspended its institution (暂停收托)
        await self.load_statuses()
        mine = [p for p in self.plans if p.uscc in self.ids]
        present["institutions"] = len(mine)
        for p in mine:
            present[f"institutions_{self.status[p.uscc]}"] += 1
        filed = [p for p in mine if self.status[p.uscc] == "filed"]
        present["slots_filed"] = sum(p.total_slots for p in filed)
        present["puhui_slots_filed"] = sum(p.body["puhui_slots"] for p in filed)
        present["streets_with_filed"] = len({p.street_code for p in filed})
        present["staff"] = sum(len(self.staff_present.get(p.uscc, ())) for p in filed)
        present["annual_reports"] = sum(1 for p in filed if p.uscc in self.reported)
        present["annual_reports_missing"] = len(filed) - present["annual_reports"]
        present["inspectors"] = len([s for s in self.inspectors if s.startswith("demo-inspector-")])
        plans = await self.api.json("inspection", "GET", "/v1/plans", self.supervisor)
        present["plans"] = sum(1 for p in plans if p["name"].startswith("演示") and p["status"] == "drawn")
        for view in self.task_views.values():
            present["tasks"] += 1
            present[f"tasks_{view['status']}"] += 1
            for v in view["violations"]:
                present["violations"] += 1
                present[f"violations_{v['severity']}"] += 1
                if v["code"] == "CHILD_ABUSE" and v["status"] == "confirmed":
                    present["child_abuse_confirmed"] += 1
                if v["status"] in ("rectification_reported", "closed"):
                    present["rectifications"] += 1
            if view["kind"] == "targeted" and str(view.get("reason") or "").startswith("follow_up"):
                present["follow_ups"] += 1
        present["results_published"] = present["tasks_reviewed"]
        bans = await self.api.json("credit", "GET", "/v1/credit/lists/industry_ban", self.credit_officer)
        present["banned_persons"] = int(bans["total"])
        response = await self.api.call("reporting", "GET", "/v1/ledger/checkpoint", self.supervisor, expect=(200, 404))
        if response.status_code == 200:
            checkpoint = response.json()
            size = checkpoint.get("tree_size", checkpoint.get("size"))
            if isinstance(size, int):
                present["ledger_entries"] = size


def _checklist_sample(rng: random.Random) -> list[str]:
    """One checklist item per area, plus every item a demo violation points at."""
    with (_REFERENCE / "inspection_checklist.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    areas: dict[str, list[str]] = {}
    for row in rows:
        areas.setdefault(row["area"], []).append(row["item_code"])
    chosen = {rng.choice(sorted(codes)) for codes in areas.values()}
    chosen |= {code for code in _ITEM_FOR_CODE.values() if code}
    return sorted(chosen)


def _checklist_codes() -> dict[str, str]:
    with (_REFERENCE / "inspection_checklist.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_area: dict[str, str] = {}
    for row in rows:
        by_area.setdefault(row["area"], row["item_code"])
    return by_area


def _item_for_code() -> dict[str, str]:
    """The checklist item a violation code fails (by area; the first item of that area)."""
    area_of = {
        "DISCLOSURE_INCOMPLETE": "资质与公示",
        "PRICE_NOT_MARKED": "资质与公示",
        "DAILY_HEALTH_CHECK_LAPSE": "卫生保健",
        "DISINFECTION_LAPSE": "卫生保健",
        "FIRE_EQUIPMENT_DEFECTIVE": "消防安全",
        "FIRE_EXIT_OBSTRUCTED": "消防安全",
        "CCTV_RETENTION_SHORT": "安全防护与监控",
        "CCTV_COVERAGE_INCOMPLETE": "安全防护与监控",
        "CCTV_FOOTAGE_TAMPERED": "安全防护与监控",
        "OUTDOOR_TIME_INSUFFICIENT": "保育照护",
        "CHILD_ABUSE": "保育照护",
        "FOOD_SAMPLE_NOT_RETAINED": "膳食与食品安全",
        "SERVICE_AGREEMENT_MISSING": "家园共育与合同",
        "STAFF_HEALTH_CERT_MISSING": "人员",
    }
    first = _checklist_codes()
    return {code: first.get(area, "") for code, area in area_of.items()}


_ITEM_FOR_CODE = _item_for_code()
_DESCRIPTIONS = {
    "CHILD_ABUSE": "演示：监控录像显示保育人员推搡、拍打幼儿，经调查核实",
    "CCTV_FOOTAGE_TAMPERED": "演示：监控录像存在人为删除片段",
    "DISCLOSURE_INCOMPLETE": "演示：未在醒目位置公示收费项目和膳食信息",
    "FIRE_EQUIPMENT_DEFECTIVE": "演示：部分灭火器压力不足，未按月检查",
}


# --- command line -----------------------------------------------------------------------------------


def default_urls() -> dict[str, str]:
    base = int(os.environ.get("CHILDCARE_PORT_BASE", "8000"))
    return {s: f"http://127.0.0.1:{base + n}" for n, s in enumerate(SERVICES, start=1)}


async def generate(
    urls: Mapping[str, str],
    *,
    seed: int = DEFAULT_SEED,
    scale: int = DEFAULT_SCALE,
    token_settings: ServiceSettings | None = None,
    out: TextIO | None = sys.stdout,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Summary:
    """Run the generator against a platform listening at ``urls`` (service -> base URL)."""
    limits = httpx.Limits(max_connections=concurrency * 2)
    clients = {s: httpx.AsyncClient(base_url=urls[s], timeout=60, limits=limits) for s in SERVICES}
    try:
        api = Api(clients, token_settings or TokenSettings())
        generator = Generator(api, seed=seed, scale=scale, out=out, concurrency=concurrency)
        return await generator.run()
    finally:
        for client in clients.values():
            await client.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="number of institutions (default 2500)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--json", type=Path, help="also write the summary as JSON to this file")
    urls = default_urls()
    for service in SERVICES:
        parser.add_argument(f"--{service}-url", default=urls[service])
    args = parser.parse_args(argv)
    chosen = {s: getattr(args, f"{s}_url") for s in SERVICES}
    try:
        summary = asyncio.run(generate(chosen, seed=args.seed, scale=args.scale, concurrency=args.concurrency))
    except DemoError as exc:
        print(f"✘ demo generator: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    print(format_summary(summary))
    if args.json:
        args.json.write_text(json.dumps(summary.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
