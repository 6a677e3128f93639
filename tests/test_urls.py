"""The URL rule (ARCHITECTURE.md, "The URL rule"), checked over every route of the app.

Public paths, which posters, QR codes and newsrooms print, are Indonesian and stay put:
a renamed one keeps answering with a redirect. Staff and API paths are English. Each
path word must be in its audience's list below, so a new word is a decision, not a slip.
"""

from __future__ import annotations

import re

import pytest

from portal.moved import MOVED

# Indonesian words of public paths (citizens and public blueprints). "status" and
# "poster" are Indonesian words too (KBBI); "feed.atom" is the feed's file name.
PUBLIC_WORDS = {
    "lapor",
    "kirim",
    "status",
    "layanan",
    "poster",
    "transparansi",
    "kamus-data",
    "publikasi",
    "feed.atom",
    "kotak-masuk",
    "masuk",
    "keluar",
    "pesan",
    "bukti",
    "tanda-terima",
}
# English words of staff paths (inspectorate blueprint).
STAFF_WORDS = {
    "inspectorate",
    "login",
    "logout",
    "everywhere",
    "enrol",
    "password",
    "operator",
    "queue",
    "audit",
    "audit.csv",
    "admin",
    "staff",
    "new",
    "disable",
    "reset",
    "role",
    "sessions",
    "revoke",
    "keys",
    "rotate",
    "settings",
    "api-keys",
    "catalog",
    "categories",
    "services",
    "units",
    "reports",
    "contact",
    "evidence",
    "messages",
    "assignment",
    "priority",
    "status",
    "referral",
    "outcome",
    "duplicate",
    "publications",
    "approve",
    "withdraw",
}
# English words of API paths.
API_WORDS = {
    "api",
    "v1",
    "reports",
    "catalog",
    "openapi.json",
    "stats",
    "stats.csv",
    "publications",
}
# Outside the rule, with the reason:
EXEMPT = {
    "static": "asset files, named by their file names",
    "ops.healthz": "/healthz is the name load balancers and orchestrators look for",
    "public.switch_language": "/bahasa/<lang> switches the language for both audiences",
}
AUDIENCES = {"public": PUBLIC_WORDS, "citizens": PUBLIC_WORDS}
AUDIENCES |= {"inspectorate": STAFF_WORDS, "api": API_WORDS}


def words(rule: str) -> list[str]:
    """The literal path segments of a rule (arguments left out)."""
    return [part for part in rule.split("/") if part and not part.startswith("<")]


def test_every_path_follows_the_url_rule(app):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXEMPT:
            continue
        if rule.endpoint.startswith("moved."):
            # An old address: listed in portal/moved.py, redirects (tested below).
            assert rule.endpoint in {endpoint for endpoint, _, _ in MOVED}, rule.rule
            continue
        blueprint = rule.endpoint.split(".", 1)[0]
        assert blueprint in AUDIENCES, f"{rule.endpoint}: which audience is {rule.rule} for?"
        allowed = AUDIENCES[blueprint]
        unknown = [word for word in words(rule.rule) if word not in allowed]
        assert not unknown, f"{rule.rule} ({rule.endpoint}): {unknown} not in its word list"
        if blueprint in ("public", "citizens"):
            assert not rule.rule.startswith(("/inspectorate", "/api")), rule.rule
        checked += 1
    assert checked >= 60


def test_the_word_lists_do_not_mix_languages():
    # Only words spelled alike in both languages may be on both sides.
    shared = PUBLIC_WORDS & (STAFF_WORDS | API_WORDS)
    assert shared == {"status"}


SAMPLE_UUID = "0b5f7f0e-4d3c-4a8e-9a59-2f1c7c6a9e11"
OLD_PUBLIC_URLS = [
    ("/kasus", "/publikasi"),
    ("/kasus?page=2", "/publikasi?page=2"),
    ("/kasus/feed.atom", "/publikasi/feed.atom"),
    (f"/kasus/{SAMPLE_UUID}", f"/publikasi/{SAMPLE_UUID}"),
    ("/inbox", "/kotak-masuk"),
    ("/inbox/bukti/7", "/kotak-masuk/bukti/7"),
    ("/api/v1/cases", "/api/v1/publications"),
    ("/api/v1/cases?page=3", "/api/v1/publications?page=3"),
]


@pytest.mark.parametrize(("old", "new"), OLD_PUBLIC_URLS)
def test_old_public_urls_redirect_permanently(client, old, new):
    response = client.get(old)
    assert response.status_code == 308
    location = response.headers["Location"]
    assert re.sub(r"^https?://[^/]+", "", location) == new


def test_every_moved_address_is_tested():
    tested = {old.split("?")[0] for old, _ in OLD_PUBLIC_URLS}
    literal = {re.sub(r"<(?:[^<>:]+:)?[^<>]+>", "x", rule) for _, rule, _ in MOVED}
    assert len(literal) == len(MOVED)
    shapes = {re.sub(rf"{SAMPLE_UUID}|\b7\b", "x", url) for url in tested}
    assert literal <= shapes


def test_the_redirects_land_on_pages_that_answer(client):
    assert client.get("/kasus", follow_redirects=True).status_code == 200
    followed = client.get("/inbox", follow_redirects=True)
    assert followed.status_code == 200 and 'action="/kotak-masuk/masuk"' in followed.text
    assert client.get("/api/v1/cases", follow_redirects=True).is_json


def test_posters_printed_with_the_old_place_parameter_still_preselect_it(client):
    for url in ("/lapor?unit=mpp", "/lapor?tempat=mpp"):
        page = client.get(url).get_data(as_text=True)
        assert '<option selected value="mpp">' in page, url


@pytest.mark.app_config({"PUBLICATIONS_PAGE_SIZE": 1})
def test_old_register_pages_keep_their_page_number(app, client):
    from tests.helpers.publication import publish_case

    older = publish_case(app, title="Publikasi pertama")
    publish_case(app, title="Publikasi kedua")
    for url in ("/kasus?page=2", "/publikasi?page=2", "/publikasi?halaman=2"):
        page = client.get(url, follow_redirects=True)
        assert page.status_code == 200 and f"/publikasi/{older}" in page.text, url


def test_old_transparency_links_keep_their_period(client):
    for bad in ("2026-13", "nope"):
        old = client.get(f"/transparansi?period={bad}")
        new = client.get(f"/transparansi?periode={bad}")
        assert old.status_code == new.status_code == 400
        assert f'<option value="{bad}" selected>' in old.text or bad in old.text
    page = client.get("/transparansi").text
    assert 'name="periode"' in page and 'name="period"' not in page
