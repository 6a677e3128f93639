"""The three journeys of the portal in headless Chromium, every page checked on the way.

1. A citizen with JavaScript off on a 360x740 phone, in Indonesian and in English, files a
   report with a photo; after the inspector's question, reads it in the inbox and answers.
2. An inspector at a 1280x800 desk: the first admin's first sign-in, adding an
   investigator, whose first sign-in and enrolment follow; the overdue queue, the report,
   the photo, a question to the reporter, status changes with and without a public note.
3. A journalist: the status page shows the public note; dashboard, fee catalogue, data
   dictionary, published cases, the CSV download and a poster previewed on a phone.

The tests run in this order and hand facts on through `portal.state`.
"""

from __future__ import annotations

import base64
import io
import sqlite3
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from portal import crypto
from tests.browser.conftest import Portal
from tests.browser.pages import DESKTOP, PHONE, Tab

LANGUAGES = ("id", "en")
# What the citizen writes: long enough that no hint asks "what happened, in order".
CHRONOLOGY = {
    "id": (
        "Saya datang ke loket 3 jam sembilan pagi untuk mengurus KTP-el. Seorang calo di "
        "parkiran menawarkan KTP-el jadi hari ini dengan bayaran, lalu meminta uang di muka."
    ),
    "en": (
        "I came to counter 3 at nine in the morning for my KTP-el. A broker in the car park "
        "offered to get it done the same day for a fee and asked for the money up front."
    ),
}
QUESTION = {"id": "Jam berapa tepatnya calo itu meminta uang?", "en": "What time exactly?"}
ANSWER = {"id": "Sekitar jam sembilan lewat seperempat.", "en": "About a quarter past nine."}
PUBLIC_NOTE = {"id": "Kami memerlukan keterangan tambahan.", "en": "We need a few more facts."}


# True when every group of the element's text (split at dashes) is drawn on one line.
GROUPS_ON_ONE_LINE = """(selector) => {
    const node = document.querySelector(selector).firstChild;
    let start = 0;
    for (const group of node.textContent.split('-')) {
        const range = document.createRange();
        range.setStart(node, start);
        range.setEnd(node, start + group.length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size !== 1) return false;
        start += group.length + 1;
    }
    return true;
}"""


# True when no two of the elements' boxes intersect (siblings drawn over each other).
NOTHING_OVERLAPS = """(selector) => {
    const boxes = [...document.querySelectorAll(selector)].map(e => e.getBoundingClientRect());
    for (const [i, a] of boxes.entries())
        for (const b of boxes.slice(i + 1))
            if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1
                && b.top < a.bottom - 1 && !(a.top <= b.top && a.bottom >= b.bottom
                && a.left <= b.left && a.right >= b.right)
                && !(b.top <= a.top && b.bottom >= a.bottom && b.left <= a.left
                && b.right >= a.right)) return false;
    return true;
}"""


# The smallest rendered font size (CSS px) of any text in the dashboard's charts.
SMALLEST_CHART_TEXT = """() => Math.min(...[...document.querySelectorAll('svg.chart')]
    .flatMap(svg => {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return [...svg.querySelectorAll('text')].map(
        t => parseFloat(getComputedStyle(t).fontSize) * scale);
}))"""


def _photo(folder: Path) -> Path:
    """A small JPEG, as a phone camera would make it."""
    from PIL import Image

    path = folder / "loket.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def phone(chromium: Any, portal: Portal, screenshots: Path) -> Iterator[Any]:
    """Factory: a citizen's phone browser with JavaScript off, fresh cookies and cache."""
    contexts: list[Any] = []

    def _open(lang: str) -> Tab:
        context = chromium.new_context(java_script_enabled=False, viewport=PHONE)
        auditor = chromium.new_context(viewport=PHONE)
        contexts.extend((context, auditor))
        return Tab(
            context,
            portal_url=portal.url,
            who="citizen",
            lang=lang,
            shots=screenshots,
            weigh=True,
            auditor=auditor,
        )

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def desk(chromium: Any, portal: Portal, screenshots: Path) -> Iterator[Any]:
    """Factory: a desktop browser (staff or newsroom) with fresh cookies and cache."""
    contexts: list[Any] = []

    def _open(who: str, lang: str, weigh: bool = False) -> Tab:
        context = chromium.new_context(viewport=DESKTOP, accept_downloads=True)
        contexts.append(context)
        return Tab(
            context, portal_url=portal.url, who=who, lang=lang, shots=screenshots, weigh=weigh
        )

    yield _open
    for context in contexts:
        context.close()


def _choose_language(tab: Tab, lang: str) -> None:
    """Switch with the header link, as a visitor does (Indonesian is the default)."""
    if lang == "en":
        tab.click("nav.lang a[hreflang=en]")
    assert tab.page.locator("html").get_attribute("lang") == lang


def _assert_lands_on_error_summary(tab: Tab, fields: list[str]) -> None:
    """The error summary is on screen, focused, and links to each field in error."""
    summary = tab.page.locator("#error-summary")
    assert summary.is_visible()
    box = summary.bounding_box()
    viewport = tab.page.viewport_size
    assert box is not None and 0 <= box["y"] < viewport["height"], "summary is off screen"
    assert tab.page.evaluate("document.activeElement.id") == "error-summary"
    links = summary.locator("a")
    targets = [links.nth(i).get_attribute("href") for i in range(links.count())]
    for name in fields:
        control = tab.page.locator(f"[name={name}]").first
        control_id = control.get_attribute("id")
        assert f"#{control_id}" in targets, f"no summary link to {name}: {targets}"
        assert control.get_attribute("aria-invalid") == "true"
        described = (control.get_attribute("aria-describedby") or "").split()
        errors = [d for d in described if d.endswith("-errors")]
        assert errors and tab.page.locator(f"#{errors[0]}").is_visible()


# --- 1. the citizen files a report ---------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_citizen_files_a_report_without_javascript(
    lang: str, phone: Any, portal: Portal, tmp_path: Path
) -> None:
    tab = phone(lang)
    tab.goto("/")
    _choose_language(tab, lang)
    tab.check("home", expect_status=200)

    tab.click("header nav a[href='/lapor']")
    tab.check("form", expect_status=200)

    # A first try with the account too short and nothing chosen: errors, summarised on top.
    tab.page.fill("[name=chronology]", "calo minta uang")
    tab.click("button[value=review]")
    tab.check("form-errors", expect_status=400)
    _assert_lands_on_error_summary(tab, ["category", "service", "unit", "chronology"])
    tab.page.locator("#error-summary a[href='#chronology']").click()
    assert tab.page.evaluate("document.activeElement.name") == "chronology"

    page = tab.page
    page.select_option("[name=category]", "calo")
    page.select_option("[name=service]", "ktp_el")
    page.select_option("[name=unit]", "mpp")
    page.fill("[name=incident_date]", (date.today() - timedelta(days=5)).isoformat())
    page.check("[name=who_asked][value=broker]")
    page.fill("[name=amount_demanded]", "150rb")
    page.check("[name=paid][value=unknown]")
    page.fill("[name=person_description]", "Laki-laki berkemeja batik")
    page.fill("[name=chronology]", CHRONOLOGY[lang])
    tab.click("button[value=review]")
    tab.check("review", expect_status=200)
    hints = page.locator(".hints li").all_inner_texts()
    # Only what is missing is asked for: the promise; not the payment (the reporter chose
    # not to say), not the order of events (told at length).
    assert len(hints) == 1, hints

    page.set_input_files("#evidence", str(_photo(tmp_path)))
    tab.click("form.send button[type=submit]")
    tab.check("receipt", expect_status=201)
    code = page.locator("#tracking-code").inner_text().strip()
    receipt = page.locator("#receipt").inner_text().strip()
    assert len(receipt.replace("-", "").replace(" ", "")) == 20
    # No line breaks inside a digit group, and nothing sticks out of the box (at 320 px either).
    for width in (PHONE["width"], 320):
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        assert page.evaluate(GROUPS_ON_ONE_LINE, "#receipt"), f"a group wraps at {width} px"
        assert page.evaluate(GROUPS_ON_ONE_LINE, "#tracking-code")
        for box in ("#receipt", "#tracking-code"):
            assert page.evaluate(
                f"(e => e.scrollWidth <= e.clientWidth)(document.querySelector('{box}'))"
            )
    page.set_viewport_size(PHONE)

    # A reload re-posts the form: not filed twice, and the page says what to do.
    tab.page.reload()
    tab.check("receipt-reloaded", expect_status=409)
    assert page.locator("a[href='/kotak-masuk']").count() >= 1

    tab.click("header nav a[href='/status']")
    tab.check("status-form", expect_status=200)
    page.fill("[name=code]", code.lower().replace("-", " "))
    tab.click("main form button[type=submit]")
    tab.check("status", expect_status=200)
    assert code in page.locator("main").inner_text()
    portal.state.setdefault("reports", {})[lang] = (code, receipt)


# --- 2. the inspector ------------------------------------------------------------------


def _totp(secret: bytes) -> tuple[str, int]:
    """The code of the current 30 s window, and the window."""
    step = int(time.time()) // crypto.TOTP_STEP_SECONDS
    return crypto.totp_code(secret, step * crypto.TOTP_STEP_SECONDS), step


def _sign_in(tab: Tab, email: str, password: str, code: str) -> None:
    tab.goto("/inspectorate/login")
    tab.page.fill("[name=email]", email)
    tab.page.fill("[name=password]", password)
    tab.page.fill("[name=code]", code)
    tab.click("main form button[type=submit]")


def _make_overdue(portal: Portal, codes: list[str]) -> None:
    """Move the citizens' reports three weeks into the past, past their deadline.

    The server is another process with the real clock, so the reports are aged instead.
    """
    past = date.today() - timedelta(days=21)
    with sqlite3.connect(portal.database()) as connection:
        for code in codes:
            connection.execute(
                "UPDATE report SET received_on = ?, status_since = ?, due_on = ? "
                "WHERE tracking_code = ?",
                (past.isoformat(), past.isoformat(), (past + timedelta(days=3)).isoformat(), code),
            )
    connection.close()


def test_inspector_first_sign_in_queue_and_case(desk: Any, portal: Portal) -> None:
    reports = portal.state["reports"]
    setup = portal.setup
    admin = desk("admin", "id")

    # The first admin: the one-time password and the printed authenticator secret.
    admin.goto("/inspectorate/login")
    admin.check("login", expect_status=200)
    # The printed authenticator secret is needed at once: setup says so, and so does the hint.
    code, _ = _totp(base64.b32decode(setup["totp_secret"]))
    _sign_in(admin, setup["admin_email"], setup["admin_password"], code)
    assert admin.page.url.endswith("/inspectorate/enrol")
    admin.check("enrol-admin", expect_status=200)
    # Already connected to the authenticator at sign-in: only the password is changed.
    assert admin.page.locator("[name=code]").count() == 0
    admin_password = "kata sandi admin yang panjang"
    admin.page.fill("[name=current]", setup["admin_password"])
    admin.page.fill("[name=new_password]", admin_password)
    admin.page.fill("[name=confirm]", admin_password)
    admin.click("main form button[type=submit]")
    assert admin.page.url.endswith("/inspectorate/")
    admin.check("home", expect_status=200)

    admin.goto("/inspectorate/admin/staff")
    admin.check("staff", expect_status=200)
    investigator = "penyidik@inspektorat.example"
    admin.page.fill("[name=email]", investigator)
    admin.page.select_option("[name=role]", "investigator")
    admin.click("form[action$='/admin/staff/new'] button[type=submit]")
    admin.check("member-added", expect_status=201)
    one_time = admin.page.locator("#one-time-password").inner_text().strip()

    # The investigator, in English: first sign-in with the one-time password alone.
    staff = desk("inspector", "en")
    staff.goto("/")
    _choose_language(staff, "en")
    _sign_in(staff, investigator, one_time, "")
    assert staff.page.url.endswith("/inspectorate/enrol")
    staff.check("enrol", expect_status=200)
    secret = staff.page.locator("#totp-secret").inner_text().replace(" ", "")
    staff.page.reload()
    again = staff.page.locator("#totp-secret").inner_text().replace(" ", "")
    assert again == secret, "a reload must not replace the secret already scanned"
    password = "a long investigator password"
    staff.page.fill("[name=new_password]", password)
    staff.page.fill("[name=confirm]", password)
    code, _ = _totp(base64.b32decode(secret))
    staff.page.fill("[name=code]", code)
    staff.click("main form button[type=submit]")
    assert staff.page.url.endswith("/inspectorate/"), staff.page.locator("main").inner_text()
    staff.check("home", expect_status=200)

    _make_overdue(portal, [code for code, _ in reports.values()])
    staff.goto("/inspectorate/queue")
    staff.check("queue", expect_status=200)
    staff.page.check("[name=overdue]")
    staff.click("form.queue-filters button[type=submit]")
    staff.check("queue-overdue", expect_status=200)
    rows = staff.page.locator("table.queue tbody tr")
    listed = rows.all_inner_texts()
    for tracking, _ in reports.values():
        assert any(tracking in row for row in listed), listed
    # Compact rows: one line of text each at a desk.
    line = staff.page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('table.queue td')).lineHeight)"
    )
    assert rows.first.bounding_box()["height"] <= 2.2 * line

    for lang, (tracking, _) in reports.items():
        staff.click(f"table.queue a:text-is('{tracking}')")
        staff.check(f"case-{lang}", expect_status=200)
        # What the inspector came to read comes first, the actions after it.
        order = staff.page.evaluate(
            "['report', 'evidence', 'messages', 'actions']"
            ".map(id => document.getElementById(id).getBoundingClientRect().top)"
        )
        assert order == sorted(order), order
        with staff.page.expect_download() as download:
            staff.page.locator("#evidence a").first.click()
        assert download.value.suggested_filename.endswith(".jpg")

        staff.page.fill("[name=reply-body]", QUESTION[lang])
        staff.click("#messages button[type=submit]")
        assert QUESTION[lang] in staff.page.locator("#messages").inner_text()

        # A status change without its public note is refused, and the refusal is in sight.
        staff.page.select_option("[name=status-status]", "needs_info")
        staff.click("#change-status button[type=submit]")
        staff.check(f"case-{lang}-refused", expect_status=400)
        _assert_lands_on_error_summary(staff, ["status-public_note"])
        staff.page.fill("[name=status-public_note]", PUBLIC_NOTE[lang])
        staff.click("#change-status button[type=submit]")
        staff.check(f"case-{lang}-needs-info", expect_status=200)
        assert PUBLIC_NOTE[lang] in staff.page.locator("#timeline").inner_text()
        staff.goto("/inspectorate/queue?overdue=y")


# --- 1, continued: the citizen reads the question and answers ------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_citizen_reads_the_question_and_answers(lang: str, phone: Any, portal: Portal) -> None:
    code, receipt = portal.state["reports"][lang]
    tab = phone(lang)
    tab.goto("/")
    _choose_language(tab, lang)
    tab.click("header nav a[href='/kotak-masuk']")
    tab.check("inbox-sign-in", expect_status=200)
    tab.page.fill("[name=code]", code)
    tab.page.fill("[name=receipt]", receipt)
    tab.click("main form button[type=submit]")
    tab.check("inbox", expect_status=200)
    assert QUESTION[lang] in tab.page.locator("#messages").inner_text()
    assert PUBLIC_NOTE[lang] in tab.page.locator("main").inner_text()
    tab.page.fill("[name=body]", ANSWER[lang])
    tab.click("#messages button[type=submit]")
    tab.check("inbox-answered", expect_status=200)
    assert ANSWER[lang] in tab.page.locator("#messages").inner_text()
    tab.click(".inbox-head button[type=submit]")
    tab.check("inbox-signed-out", expect_status=200)
    assert code not in tab.page.locator("main").inner_text()


# --- 3. the journalist ----------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_journalist_checks_status_statistics_and_open_data(
    lang: str, desk: Any, portal: Portal
) -> None:
    code, _ = portal.state["reports"][lang]
    tab = desk("journalist", lang, weigh=True)
    tab.goto("/")
    _choose_language(tab, lang)
    tab.goto(f"/status/{code}")
    tab.check("status", expect_status=200)
    assert PUBLIC_NOTE[lang] in tab.page.locator("main").inner_text()

    tab.click("header nav a[href='/transparansi']")
    tab.check("dashboard", expect_status=200)
    # Chart text stays readable on a phone: drawn at 12-13 px, never shrunk to 8.
    for width in (PHONE["width"], 320):
        tab.page.set_viewport_size({"width": width, "height": PHONE["height"]})
        smallest = tab.page.evaluate(SMALLEST_CHART_TEXT)
        assert smallest >= 11, f"chart text {smallest:.1f} px at {width} px"
    tab.page.set_viewport_size(DESKTOP)
    with tab.page.expect_download() as download:
        tab.page.locator("a[type='text/csv']").first.click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].startswith("period,breakdown,key")

    tab.click("a[href='/transparansi/kamus-data']")
    tab.check("data-dictionary", expect_status=200)
    tab.click("header nav a[href='/layanan']")
    tab.check("catalogue", expect_status=200)
    tab.goto("/publikasi")
    tab.check("published-cases", expect_status=200)

    # A poster, previewed on a phone before printing: nothing drawn over anything else.
    tab.goto("/layanan/poster/mpp")
    tab.check("poster", expect_status=200)
    tab.page.set_viewport_size(PHONE)
    assert tab.page.evaluate(NOTHING_OVERLAPS, ".sheet-head > *, .sheet > *, .sheet-report > *")
    assert tab.portal_url.split("://")[1] in tab.page.locator(".short-url").inner_text()
