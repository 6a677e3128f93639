"""An outsider who polls every published statistic, files reports of its own and subtracts.

The attacker knows the publication rule (closed quarters only, frozen; years as sums of
published quarters; "< k" is 1..k-1, or 0..k-1 in a table withheld for a small total;
"x" is at least k and, within one breakdown, at most its smallest shown non-zero cell).
It polls every period's JSON, CSV and dashboard before and after each of many filings,
moved across quarter boundaries by the portal's clock, and turns everything it ever saw
into one system of interval constraints: every breakdown adds up to its total, every year
to its quarters, every version of a year to the quarters it covered then, its own reports
are lower bounds, and so is every published case it ever read in the register (placed in
its quarter, counted in its category, service, place, month and, if resolved before the
quarter was published, status). It never learns the exact number of a cell where 1..k-1
reports lie beside the published cases. What padding with its own reports does reveal (how
many others share a padded cell) is measured, and must stay inside the cells it padded.
Mutation runs switch one protection off in the portal and require the same attacker to
catch the leak.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import Category, Channel, Service, Unit
from portal.models.base import LOCAL_TIMEZONE, moved_clock
from portal.services import stats
from portal.services.stats import cases as stats_cases
from portal.services.stats import publish as stats_publish
from portal.services.stats import views as stats_views
from portal.suppression import NO_FLOORS, Cell, Mark, exactly
from tests.helpers import VALID_JSON, make_staff
from tests.helpers.publication import publish_summary, resolve


def current_app_context(client: FlaskClient) -> Any:
    """The app context of the client's application (for the timer's command)."""
    return client.application.app_context()


K = 5
API = "/api/v1"
LINES = ("status", "category", "service", "unit", "channel", "month")
GROUP_OF = {name: "reports" for name in LINES} | {"referral": "referrals"}


class Clock:
    """A clock the portal reads (portal.models.base.moved_clock), moved by the script."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def day(self) -> date:
        return self.current.astimezone(LOCAL_TIMEZONE).date()


@dataclass
class World:
    """What really happened (the test's own ledger) and what the attacker did."""

    truth: defaultdict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    own: defaultdict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    polls: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    channel: str = "api"  # every report here comes through the JSON API
    filed: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # code: quarter
    # Every published case the attacker ever read (by id): the facts the register showed.
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The day each quarter was first seen published.
    published_on: dict[str, date] = field(default_factory=dict)


def file_one(
    client: FlaskClient, world: World, clock: Clock, facts: dict[str, str], own: bool
) -> str:
    """File one report through the API on the clock's day, and note it in the ledger."""
    day = clock.day()
    response = client.post(
        f"{API}/reports", json={**VALID_JSON, **facts, "incident_date": day.isoformat()}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    quarter = stats.quarter_key(stats.quarter_start(day))
    cells = {
        ("status", "received"),
        ("category", facts["category"]),
        ("service", facts["service"]),
        ("unit", facts["unit"]),
        ("channel", world.channel),
        ("month", stats.month_key(day)),
        ("_total", "reports"),
    }
    for line, key in cells:
        world.truth[(quarter, line, key)] += 1
        if own:
            world.own[(quarter, line, key)] += 1
    code = response.get_json()["tracking_code"]
    world.filed[code] = (quarter, facts)
    return code


def publish_case(app: Flask, world: World, clock: Clock, code: str, staff: tuple[Any, Any]) -> None:
    """Resolve a report (proven, refunded) and publish its summary with four eyes.

    A report resolved while its quarter runs is counted as resolved when the quarter is
    frozen; one resolved after the freeze stays as the frozen table counted it.
    """
    resolve(app, code)
    quarter, _ = world.filed[code]
    if quarter == stats.quarter_key(stats.quarter_start(clock.day())):
        world.truth[(quarter, "status", "received")] -= 1
        world.truth[(quarter, "status", "resolved")] += 1
    author, approver = staff
    publish_summary(app, code, author, approver, title="Kasus", summary="Ringkasan.")


def poll(client: FlaskClient, world: World, clock: Clock) -> None:
    """Read every published period in JSON, CSV and HTML; check the three agree.

    The daily timer (`flask stats publish`) has run before the attacker reads.
    """
    with current_app_context(client):
        stats.publish_due()
    today = clock.day()
    seen: dict[str, dict[str, Any]] = {}
    assert (
        client.get(
            f"{API}/stats?period={stats.quarter_key(stats.quarter_start(today))}"
        ).status_code
        == 400
    )
    for _, periods in stats.period_choices(date(2026, 1, 1), today):
        for period in periods:
            document = client.get(f"{API}/stats?period={period.key}")
            assert document.status_code == 200, document.get_data(as_text=True)
            data = document.get_json()
            csv_text = client.get(f"{API}/stats.csv?period={period.key}").get_data(as_text=True)
            rows = list(csv.DictReader(io.StringIO(csv_text)))
            # The dashboard renders the same cells; read it on every few polls (it is slow).
            html = (
                client.get(f"/transparansi?periode={period.key}").get_data(as_text=True)
                if len(world.polls) % 4 == 0
                else ""
            )
            for name, breakdown in data["breakdowns"].items():
                csv_cells = {row["key"]: row["display"] for row in rows if row["breakdown"] == name}
                json_cells = {cell["key"]: cell["display"] for cell in breakdown["cells"]}
                json_cells["_total"] = breakdown["total"]["display"]
                assert csv_cells == json_cells, (period.key, name)
                table = re.search(rf'id="table-{name}".*?</table>', html, flags=re.DOTALL)
                html_cells = (
                    dict(re.findall(r'data-key="([^"]+)">([^<]*)<', table.group(0)))
                    if table
                    else {}
                )
                if breakdown["cells"] and html:
                    assert {
                        key: value.replace(".", "").replace(",", "").replace("&lt;", "<")
                        for key, value in html_cells.items()
                    } == json_cells, (period.key, name)
            seen[period.key] = data
            if "-Q" in period.key:
                world.published_on.setdefault(period.key, today)
    page = 1
    while True:
        listing = client.get(f"{API}/publications?page={page}").get_json()
        for case in listing["publications"]:
            known = world.cases.setdefault(case["id"], {})
            for name, value in case.items():
                if value not in (None, ""):
                    known[name] = value  # a fact once shown stays known
        if not listing["next_page"]:
            break
        page += 1
    world.polls.append(seen)


# --- the attacker's reasoning ---------------------------------------------------------------


Var = tuple[str, str, str]  # (quarter, line, key); line "_total" for a group's total


@dataclass
class Bounds:
    lo: int = 0
    hi: float = float("inf")


class Attacker:
    """Interval constraint propagation over everything ever published."""

    def __init__(self, keys: dict[str, list[str]], world: World) -> None:
        self.keys = keys
        self.world = world
        self.floors = self.case_floors()
        self.bounds: defaultdict[Var, Bounds] = defaultdict(Bounds)
        # Each constraint: sum of `plus` == sum of `minus` (all coefficients one).
        self.equations: list[tuple[list[Var], list[Var]]] = []
        self.constants: dict[Var, int] = {}
        self.counter = 0

    def case_floors(self) -> defaultdict[Var, int]:
        """What the register shows: each case counts in its quarter's cells (at least one).

        The attacker places a case in the quarter of its incident month (here filed the
        same day), and counts it as resolved in the frozen table when it was resolved in
        a month before the quarter was first seen published.
        """
        floors: defaultdict[Var, int] = defaultdict(int)
        for case in self.world.cases.values():
            if "incident_month" not in case:
                continue
            month = date.fromisoformat(case["incident_month"] + "-01")
            quarter = stats.quarter_key(stats.quarter_start(month))
            facts = [("_total", "reports"), ("month", case["incident_month"])]
            facts += [
                (line, case[line]) for line in ("category", "service", "unit") if line in case
            ]
            published = self.world.published_on.get(quarter)
            resolved = case.get("resolved_month")
            if resolved and published and resolved < stats.month_key(published):
                facts.append(("status", "resolved"))
            for line, key in facts:
                floors[(quarter, line, key)] += 1
        return floors

    def constant(self, value: int) -> Var:
        """A variable fixed to a published number."""
        self.counter += 1
        var = ("_const", str(self.counter), "")
        self.bounds[var] = Bounds(value, value)
        return var

    def narrow(self, var: Var, lo: int, hi: float) -> None:
        bound = self.bounds[var]
        bound.lo, bound.hi = max(bound.lo, lo), min(bound.hi, hi)
        assert bound.lo <= bound.hi, f"contradiction on {var}: the attacker's model is wrong"

    @staticmethod
    def read(display: str) -> tuple[str, int | None]:
        if display == "x":
            return "x", None
        if display.startswith("<"):
            return "small", None
        return "shown", int(display)

    def learn_quarter(self, key: str, data: dict[str, Any]) -> None:
        for name, breakdown in data["breakdowns"].items():
            line = "referral" if name == "referral" else name
            total_var: Var = (key, "_total", GROUP_OF[line])
            kind, value = self.read(breakdown["total"]["display"])
            if kind == "shown":
                self.narrow(total_var, value or 0, value or 0)
            elif kind == "small":
                self.narrow(total_var, 1, K - 1)
            else:
                self.narrow(total_var, K, float("inf"))
            cells = {cell["key"]: cell["display"] for cell in breakdown["cells"]}
            known = self.keys.get(line, [])
            if line == "month":
                first = date(int(key[:4]), 3 * int(key[-1]) - 2, 1)
                known = [stats.month_key(stats.add_months(first, index)) for index in range(3)]
            universe = sorted(set(known) | set(cells))
            variables = [(key, line, cell) for cell in universe]
            self.equations.append((variables, [total_var]))
            if not breakdown["cells"]:
                if kind == "small":
                    for var in variables:
                        self.narrow(var, 0, K - 1)
                continue
            shown = [
                self.read(display)[1]
                for display in cells.values()
                if self.read(display)[0] == "shown"
            ]
            smallest = min([value for value in shown if value], default=float("inf"))
            for cell, var in zip(universe, variables, strict=True):
                if cell not in cells:
                    self.narrow(var, 0, 0)  # an unlisted place has no report
                    continue
                kind, value = self.read(cells[cell])
                if kind == "shown":
                    self.narrow(var, value or 0, value or 0)
                elif kind == "small":
                    self.narrow(var, 1, K - 1)
                else:
                    # x: complementary (at most the smallest shown), or hidden for its few
                    # reports beside the cases in it (at most cases + k - 1).
                    floor = self.floors.get(var, 0)
                    self.narrow(var, K, max(smallest, floor + K - 1) if floor else smallest)

    def learn_year(self, data: dict[str, Any]) -> None:
        quarters = data["quarters"]
        for name, breakdown in data["breakdowns"].items():
            if name == "month":
                continue  # its rows are the quarters' own rows
            line = name
            pairs = [(cell["key"], cell["display"]) for cell in breakdown["cells"]]
            pairs.append(("_total", breakdown["total"]["display"]))
            for cell, display in pairs:
                kind, value = self.read(display)
                if cell == "_total":
                    parts = [(quarter, "_total", GROUP_OF[line]) for quarter in quarters]
                else:
                    parts = [(quarter, line, cell) for quarter in quarters]
                if kind == "shown":
                    self.equations.append((parts, [self.constant(value or 0)]))
                elif kind == "small":
                    bound = self.constant(0)
                    self.bounds[bound] = Bounds(0, K - 1)
                    self.equations.append((parts, [bound]))

    def learn_own(self) -> None:
        """Its own reports and the published cases (never its own) are lower bounds."""
        for var in set(self.world.own) | set(self.floors):
            self.narrow(var, self.world.own.get(var, 0) + self.floors.get(var, 0), float("inf"))

    def propagate(self) -> None:
        """Bounds consistency over every equation until nothing moves."""
        for _ in range(200):
            moved = False
            for plus, minus in self.equations:
                terms = [(var, 1) for var in plus] + [(var, -1) for var in minus]
                for var, sign in terms:
                    lo_rest, hi_rest = 0.0, 0.0
                    for other, other_sign in terms:
                        if other is var:
                            continue
                        bound = self.bounds[other]
                        # sign*var = -sum(other_sign*other)
                        if other_sign > 0:
                            lo_rest -= bound.hi
                            hi_rest -= bound.lo
                        else:
                            lo_rest += bound.lo
                            hi_rest += bound.hi
                    lo, hi = (lo_rest, hi_rest) if sign > 0 else (-hi_rest, -lo_rest)
                    bound = self.bounds[var]
                    new_lo = max(bound.lo, int(lo) if lo != float("-inf") else bound.lo)
                    new_hi = min(bound.hi, hi)
                    if new_lo > bound.lo or new_hi < bound.hi:
                        self.narrow(var, new_lo, new_hi)
                        moved = True
            if not moved:
                return
        raise AssertionError("propagation did not settle")


def catalogue(app: Flask) -> dict[str, list[str]]:
    with app.app_context():
        return {
            "category": list(db.session.scalars(select(Category.code).where(Category.active))),
            "service": list(db.session.scalars(select(Service.code).where(Service.active))),
            "unit": list(db.session.scalars(select(Unit.code).where(Unit.active))),
        }


@pytest.mark.app_config(
    {"RATELIMIT_REPORT_SUBMIT": "10000 per hour", "RATELIMIT_DEFAULT": "100000 per minute"}
)
@pytest.mark.parametrize(
    ("seed", "mutation"), [(1, None), (1, "cases_unprotected"), (1, "years_exact")]
)
def test_a_polling_padding_attacker_learns_no_small_cell(app, client, monkeypatch, seed, mutation):
    """The attacker never learns a small cell; with a protection switched off, it does.

    Each mutation removes one protection from the portal and the same attacker must then
    catch a leak (not merely a contradiction in its own reasoning): published cases'
    facts left out of the protection, or years published as exact sums of their quarters.
    """
    if mutation == "cases_unprotected":
        monkeypatch.setattr(stats_publish, "quarter_floors", lambda period: (NO_FLOORS, {}))
        monkeypatch.setattr(stats_cases, "narrows", lambda *args, **kwargs: False)
        monkeypatch.setattr(stats_cases, "_refund_narrows", lambda *args: False)
    elif mutation == "years_exact":
        monkeypatch.setattr(
            stats_views,
            "_sum_cells",
            lambda cells, k: Cell(
                sum(c.value for c in cells), Mark.SHOWN, exactly(sum(c.value for c in cells))
            ),
        )
    rng = random.Random(seed)
    keys = catalogue(app)
    world = World()
    staff = (make_staff(app), make_staff(app))
    # Two places only the case scripts below use: a quarter's six reports there, two of
    # them published while the quarter runs; seven in another quarter, three published
    # after it was frozen.
    case_unit, late_unit = keys["unit"][3], keys["unit"][4]
    late_codes: list[str] = []
    clock = Clock(datetime(2026, 3, 20, 5, 0, tzinfo=UTC))
    rare_unit = keys["unit"][-1]
    rare_category = keys["category"][-1]
    with moved_clock(clock):
        file_one(
            client,
            world,
            clock,
            {
                "category": keys["category"][0],
                "service": keys["service"][0],
                "unit": keys["unit"][0],
            },
            own=False,
        )
        days = [
            0,
            5,
            8,
            10,
            11,
            12,
            15,
            20,
            25,
            30,
            31,
            40,
            45,
            60,
            62,
            70,
            80,
            90,
            92,
            95,
            100,
            120,
            150,
            175,
            180,
            183,
            190,
            200,
            230,
            260,
            270,
            275,
            282,
            285,
            290,
            300,
        ]
        start = clock.current
        for step, offset in enumerate(days):
            clock.current = start + timedelta(days=offset, hours=rng.randint(0, 10))
            poll(client, world, clock)
            kind = rng.random()
            if offset == 20:  # 2026-Q2, running: six reports in one place, two published
                codes = [
                    file_one(
                        client,
                        world,
                        clock,
                        {
                            "category": rng.choice(keys["category"]),
                            "service": keys["service"][0],
                            "unit": case_unit,
                        },
                        own=False,
                    )
                    for _ in range(K + 1)
                ]
                for code in codes[:2]:
                    publish_case(app, world, clock, code, staff)
            elif offset == 120:  # 2026-Q3: seven reports in another place
                late_codes = [
                    file_one(
                        client,
                        world,
                        clock,
                        {
                            "category": keys["category"][0],
                            "service": keys["service"][0],
                            "unit": late_unit,
                        },
                        own=False,
                    )
                    for _ in range(K + 2)
                ]
            elif offset == 200:  # 2026-Q4: Q3 is frozen; three of the seven published now
                for code in late_codes[:3]:
                    publish_case(app, world, clock, code, staff)
            elif step % 7 == 3:
                # Padding: the attacker files k-1 reports of its own in the rare place...
                for _ in range(K - 1):
                    file_one(
                        client,
                        world,
                        clock,
                        {
                            "category": rare_category,
                            "service": keys["service"][0],
                            "unit": rare_unit,
                        },
                        own=True,
                    )
                poll(client, world, clock)
                # ...and then the one report it wants to find lands there.
                file_one(
                    client,
                    world,
                    clock,
                    {
                        "category": rng.choice(keys["category"]),
                        "service": rng.choice(keys["service"]),
                        "unit": rare_unit,
                    },
                    own=False,
                )
            elif kind < 0.3:
                # A single report in a rare cell, alone in its day.
                file_one(
                    client,
                    world,
                    clock,
                    {
                        "category": rare_category,
                        "service": keys["service"][-1],
                        "unit": rng.choice(keys["unit"]),
                    },
                    own=False,
                )
            else:
                for _ in range(rng.randint(1, 4)):
                    file_one(
                        client,
                        world,
                        clock,
                        {
                            "category": rng.choice(keys["category"]),
                            "service": rng.choice(keys["service"]),
                            "unit": rng.choice(keys["unit"][:3]),
                        },
                        own=False,
                    )
            poll(client, world, clock)
        clock.current = datetime(2027, 4, 2, 5, 0, tzinfo=UTC)
        poll(client, world, clock)

    # Published figures change only when a closed quarter is published: a quarter's
    # document never changes once it appears; a year changes only by gaining a quarter.
    first_seen: dict[str, dict[str, Any]] = {}
    year_versions: dict[str, dict[tuple[str, ...], dict[str, Any]]] = defaultdict(dict)
    for seen in world.polls:
        for key, data in seen.items():
            if "-Q" in key:
                assert first_seen.setdefault(key, data) == data, f"{key} changed after publication"
            else:
                version = tuple(data["quarters"])
                assert year_versions[key].setdefault(version, data) == data, f"{key} changed"
    assert {"2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"} <= set(first_seen)

    attacker = Attacker(
        keys
        | {
            "status": [
                "received",
                "needs_info",
                "verified",
                "in_progress",
                "referred",
                "resolved",
                "rejected",
            ],
            "channel": [channel.value for channel in Channel],
        },
        world,
    )
    for key, data in first_seen.items():
        attacker.learn_quarter(key, data)
    for versions in year_versions.values():
        for data in versions.values():
            attacker.learn_year(data)
    attacker.learn_own()
    attacker.propagate()

    # The ledger agrees with what the attacker's bounds allow (its model is sound)...
    for var, value in world.truth.items():
        bound = attacker.bounds[var]
        assert bound.lo <= value <= bound.hi, (var, value, bound)
    # ...and no cell where 1..k-1 reports lie beside the published cases, one of them someone
    # else's, is known exactly (a cell holding only the attacker's own reports and published
    # cases tells it "nobody else": it points at nobody).
    exact = {var for var in world.truth if attacker.bounds[var].lo == attacker.bounds[var].hi}
    learned = sorted(
        (var, world.truth[var])
        for var in exact
        if 0 < world.truth[var] - attacker.floors.get(var, 0) < K
        and world.truth[var] - attacker.floors.get(var, 0) > world.own.get(var, 0)
    )
    assert attacker.floors, "the attacker read no published case"
    if mutation is not None:
        assert learned, f"with {mutation}, the attacker should have caught a leak"
        print(f"{mutation}: the attacker learned {learned}")
        return
    assert learned == []
    # What remains: in a cell the attacker padded past k, it learns how many others are there.
    padded = sorted(
        var
        for var in exact
        if world.own.get(var, 0)
        and world.truth[var] >= K
        and 0 < world.truth[var] - world.own[var] < K
    )
    assert all(world.own[var] >= 1 for var in padded)
    reports = sum(world.truth[(quarter, "_total", "reports")] for quarter in first_seen)
    print(
        f"seed {seed}: {len(world.polls)} polls, {reports} reports, {len(exact)} cells known"
        f" exactly, {len(padded)} padded cells where the others' number shows: {padded}"
    )
