"""Languages: a complete Indonesian catalogue, Indonesian pages by default, English on request."""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from portal.i18n import LOCALE_COOKIE
from portal.labels import status_label
from tests.helpers import submit_report

ROOT = Path(__file__).resolve().parent.parent
BABEL_CFG = ROOT / "babel.cfg"
PO_FILE = ROOT / "translations" / "id" / "LC_MESSAGES" / "messages.po"
MO_FILE = PO_FILE.with_suffix(".mo")
# The same keywords as `make extract` (`pybabel extract -k _l`).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}

# Status names as the portal's design spells them in Indonesian.
DESIGN_STATUS_NAMES = {
    "received": "Diterima",
    "needs_info": "Menunggu informasi pelapor",
    "verified": "Terverifikasi",
    "in_progress": "Dalam penanganan",
    "referred": "Dirujuk",
    "resolved": "Selesai",
    "rejected": "Tidak dapat ditindaklanjuti",
}

# Blueprints whose GET routes are HTML pages people see.
PAGE_BLUEPRINTS = ("public", "citizens")
# "%(name)s", "%d", "%%" and "{name}" / "{0}" / "{name!r:>10}" style placeholders.
_PLACEHOLDER = re.compile(
    r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{\w*(?:[!:][^{}]*)?\}"
)
_HTML_LANG = re.compile(r'<html lang="([^"]*)"')
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
_TAG = re.compile(r"<[^>]+>")
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)


# --- helpers -------------------------------------------------------------------------


def read_catalogue() -> Catalog:
    """The Indonesian .po catalogue as it is on disk (not the compiled .mo)."""
    with PO_FILE.open("rb") as handle:
        return read_po(handle, locale="id")


Sources = dict[tuple[str | tuple[str, ...], str | None], list[str]]


def extract_sources(root: Path = ROOT) -> Sources:
    """Fresh extraction as `make extract` does it: message -> where it is used."""
    with (root / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(root / "babel.cfg"))
    found: Sources = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        root, method_map, options_map, keywords=KEYWORDS
    ):
        key = (tuple(message) if isinstance(message, list | tuple) else message, context)
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def translation_problems(sources: Sources, catalogue: Catalog) -> dict[str, list[str]]:
    """Source messages that are missing, fuzzy, or whose placeholders differ, by kind."""
    problems: dict[str, list[str]] = {"missing": [], "fuzzy": [], "placeholders": []}
    for (msgid, context), where in sorted(sources.items(), key=str):
        lookup = msgid[0] if isinstance(msgid, tuple) else msgid
        message = catalogue.get(lookup, context=context)
        label = f"{msgid!r} ({', '.join(where)})"
        strings = message.string if message is not None else ""
        translations = list(strings) if isinstance(strings, tuple | list) else [strings]
        if message is None or not all(text.strip() for text in translations):
            problems["missing"].append(label)
            continue
        if message.fuzzy:
            problems["fuzzy"].append(label)
        originals = list(msgid) if isinstance(msgid, tuple) else [msgid]
        expected = placeholders(originals[-1])
        for text in translations:
            if placeholders(text) != expected:
                problems["placeholders"].append(f"{label}: {text!r}")
    return problems


def placeholders(text: str) -> Counter[str]:
    """The format placeholders a string uses, with their counts."""
    return Counter(_PLACEHOLDER.findall(text))


def visible_text(page: str) -> str:
    """What a reader sees: markup stripped, entities decoded, whitespace collapsed."""
    text = html.unescape(_TAG.sub(" ", _SCRIPT_STYLE.sub(" ", page)))
    return " ".join(text.split())


def heading(page: str) -> str:
    """The page's first <h1>, as text."""
    match = _H1.search(page)
    assert match, "page has no <h1>"
    return visible_text(match.group(1))


def html_lang(page: str) -> str:
    match = _HTML_LANG.search(page)
    assert match, "page has no <html lang>"
    return match.group(1)


# File downloads, not pages (and behind a reporter session).
NOT_PAGES = {"citizens.inbox_download", "public.publications_feed"}


def _published_case(app: Flask) -> str:
    """The public id of a published case (one per app), so its page can be checked too."""
    from tests.helpers.publication import publish_case

    if "TEST_PUBLISHED_CASE" not in app.config:
        app.config["TEST_PUBLISHED_CASE"] = publish_case(app)
    return str(app.config["TEST_PUBLISHED_CASE"])


def page_urls(app: Flask, tracking_code: str, lang: str) -> list[str]:
    """Every GET page of the public and citizen blueprints, with sample arguments."""
    samples: dict[str, dict[str, str]] = {
        "public.status_page": {"code": tracking_code},
        # The switch redirects to a page; keep the language the test is checking.
        "public.switch_language": {"lang": lang},
        "public.publication_page": {"public_id": _published_case(app)},
        "public.catalog_service": {"service_code": "ktp_el"},
        "public.poster": {"unit_code": "mpp"},
    }
    urls = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.partition(".")[0]
        if (
            "GET" not in (rule.methods or ())
            or rule.endpoint == "static"
            or rule.rule.startswith("/api/")
            or blueprint not in PAGE_BLUEPRINTS
            or rule.endpoint in NOT_PAGES
        ):
            continue
        if rule.arguments:
            assert rule.endpoint in samples, (
                f"{rule.rule}: add sample arguments for {rule.endpoint} to page_urls()"
            )
            values = samples[rule.endpoint]
        else:
            values = {}
        urls.append(rule.build(values, append_unknown=False)[1])
    return sorted(urls)


def english_phrases_left(text: str, catalogue: Catalog) -> list[str]:
    """English source sentences (4+ words) that appear untranslated in Indonesian text."""
    return sorted(
        message.id
        for message in catalogue
        if isinstance(message.id, str)
        and len(message.id.split()) >= 4
        and message.string != message.id
        and message.id in text
    )


# --- (a) the catalogue ----------------------------------------------------------------


def test_every_source_message_has_an_indonesian_translation() -> None:
    sources = extract_sources()
    assert len(sources) > 50, "extraction found too few messages: check babel.cfg"
    problems = translation_problems(sources, read_catalogue())

    hint = "Run `make extract`, translate translations/id/LC_MESSAGES/messages.po, remove fuzzy."
    missing, fuzzy = problems["missing"], problems["fuzzy"]
    assert not missing, f"{len(missing)} message(s) lack Indonesian. {hint}\n" + "\n".join(missing)
    assert not fuzzy, f"Fuzzy translations must be reviewed. {hint}\n" + "\n".join(fuzzy)
    assert not problems["placeholders"], "Placeholders differ from the source:\n" + "\n".join(
        problems["placeholders"]
    )


def test_completeness_check_catches_a_new_untranslated_string(tmp_path: Path) -> None:
    """The check above fails as soon as someone adds a `_()` string without translating it."""
    (tmp_path / "babel.cfg").write_text(BABEL_CFG.read_text())
    (tmp_path / "portal").mkdir()
    (tmp_path / "portal" / "new.py").write_text(
        "from flask_babel import gettext as _\n"
        "from flask_babel import lazy_gettext as _l\n"
        "OLD = _l('Report status')\n"
        "NEW = _l('A sentence nobody has translated yet.')\n"
        "def f(n):\n"
        "    return _('Check'), _('%(count)d new reports', count=n)\n"
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "new.html").write_text(
        "<p>{{ _('Stay safe') }}</p><p>{{ _('Another new template sentence.') }}</p>"
    )
    sources = extract_sources(tmp_path)
    assert ("Report status", None) in sources
    problems = translation_problems(sources, read_catalogue())
    missing = "\n".join(problems["missing"])
    assert "A sentence nobody has translated yet." in missing
    assert "Another new template sentence." in missing
    assert "%(count)d new reports" in missing
    assert "'Report status'" not in missing
    assert "'Stay safe'" not in missing

    catalogue = Catalog(locale="id")
    catalogue.add("Check", "Cek %(count)d")
    catalogue.add("Report status", "Status laporan", flags=["fuzzy"])
    problems = translation_problems(
        {("Check", None): ["x.py:1"], ("Report status", None): ["x.py:2"]}, catalogue
    )
    assert problems["placeholders"] and problems["fuzzy"]


def test_catalogue_has_no_fuzzy_or_empty_entries() -> None:
    catalogue = read_catalogue()
    problems = [
        repr(message.id)
        for message in catalogue
        if message.id and (message.fuzzy or not message.string)
    ]
    assert not problems, "Empty or fuzzy entries in the .po:\n" + "\n".join(problems)


def test_compiled_catalogue_matches_the_po_file() -> None:
    assert MO_FILE.exists(), "messages.mo is missing: run `make translations`"
    with MO_FILE.open("rb") as handle:
        compiled = {message.id: message.string for message in read_mo(handle) if message.id}
    source = {message.id: message.string for message in read_catalogue() if message.id}
    assert compiled == source, "messages.mo is stale: run `make translations`"


def test_status_names_follow_the_design(app: Flask) -> None:
    with app.test_request_context("/"):
        names = {status: status_label(status) for status in DESIGN_STATUS_NAMES}
    assert names == DESIGN_STATUS_NAMES


# --- (b) every page in both languages -------------------------------------------------


@pytest.fixture
def tracking_code(client: FlaskClient) -> str:
    """A real report, so the status page shows its status card."""
    code, _receipt = submit_report(client)
    return code


# Every page renders, posters included: they need the portal's public address.
pytestmark = pytest.mark.app_config({"PUBLIC_BASE_URL": "https://lapor.serangkota.go.id"})


def test_pages_are_indonesian_by_default(app: Flask, tracking_code: str) -> None:
    catalogue = read_catalogue()
    translations = {message.string for message in catalogue if message.id}
    urls = page_urls(app, tracking_code, "id")
    assert "/" in urls and "/lapor" in urls and "/status" in urls
    for url in urls:
        # A fresh browser each time: no language cookie, so this is the default.
        response = app.test_client().get(url, follow_redirects=True)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        text = visible_text(page)
        assert html_lang(page) == "id", url
        assert heading(page) in translations, f"{url}: <h1> {heading(page)!r} is not Indonesian"
        assert "Laporan Anda dienkripsi." in text, url
        assert "Your report is encrypted." not in text, url
        assert english_phrases_left(text, catalogue) == [], url


def test_pages_are_english_after_switching(
    app: Flask, client: FlaskClient, tracking_code: str
) -> None:
    catalogue = read_catalogue()
    indonesian = {}
    for url in page_urls(app, tracking_code, "id"):
        page = app.test_client().get(url, follow_redirects=True).get_data(as_text=True)
        indonesian[url] = heading(page)

    switched = client.get("/bahasa/en?next=/")
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/"

    for url in page_urls(app, tracking_code, "en"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        text = visible_text(page)
        assert html_lang(page) == "en", url
        assert "Your report is encrypted." in text, url
        assert "Laporan Anda dienkripsi." not in text, url
        # The same heading: its English source here, its Indonesian translation by default.
        english = heading(page)
        message = catalogue.get(english)
        assert message is not None, f"{url}: <h1> {english!r} is not a catalogue message"
        expected_id = indonesian[url.replace("/bahasa/en", "/bahasa/id")]
        assert message.string == expected_id, url


def test_status_page_shows_translated_status(client: FlaskClient, tracking_code: str) -> None:
    page = client.get(f"/status/{tracking_code}").get_data(as_text=True)
    assert "Diterima" in visible_text(page)
    client.get("/bahasa/en?next=/")
    page = client.get(f"/status/{tracking_code}").get_data(as_text=True)
    assert "Received" in visible_text(page)
    assert "Diterima" not in visible_text(page)


# --- (c) the language switch ----------------------------------------------------------


def lang_cookies(response: Any) -> list[str]:
    return [
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith(f"{LOCALE_COOKIE}=")
    ]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_language_switch_only_redirects_locally(client: FlaskClient, target: str) -> None:
    response = client.get("/bahasa/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_switch_keeps_a_local_path(client: FlaskClient) -> None:
    response = client.get("/bahasa/en", query_string={"next": "/lapor"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/lapor"
    (cookie,) = lang_cookies(response)
    assert cookie.startswith(f"{LOCALE_COOKIE}=en;")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_language_switch_without_next_goes_home(client: FlaskClient) -> None:
    response = client.get("/bahasa/id")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_unknown_language_sets_no_cookie(client: FlaskClient) -> None:
    response = client.get("/bahasa/xx", query_string={"next": "/status"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/status"
    assert lang_cookies(response) == []
    page = client.get("/").get_data(as_text=True)
    assert html_lang(page) == "id"


def test_switching_back_to_indonesian(client: FlaskClient) -> None:
    client.get("/bahasa/en?next=/")
    assert html_lang(client.get("/").get_data(as_text=True)) == "en"
    client.get("/bahasa/id?next=/")
    assert html_lang(client.get("/").get_data(as_text=True)) == "id"


# --- (d) Accept-Language ---------------------------------------------------------------


@pytest.mark.parametrize("accept", ["en", "en-US,en;q=0.9", "en-GB, id;q=0.1"])
def test_accept_language_does_not_change_pages(client: FlaskClient, accept: str) -> None:
    for url in ("/", "/lapor", "/status", "/no-such-page"):
        page = client.get(url, headers={"Accept-Language": accept}).get_data(as_text=True)
        assert html_lang(page) == "id", url
        assert "Laporan Anda dienkripsi." in visible_text(page), url


def api_message(client: FlaskClient, url: str, **headers: str) -> tuple[int, str]:
    response = client.get(url, headers=headers)
    body = response.get_json()
    assert body is not None, url
    return response.status_code, body["error"]["message"]


def test_api_errors_follow_accept_language(client: FlaskClient) -> None:
    catalogue = read_catalogue()
    not_found = "No report has this tracking code."
    indonesian = catalogue.get(not_found).string
    assert indonesian and indonesian != not_found

    assert api_message(client, "/api/v1/reports/NOPE") == (404, indonesian)
    assert api_message(client, "/api/v1/reports/NOPE", **{"Accept-Language": "id"}) == (
        404,
        indonesian,
    )
    assert api_message(client, "/api/v1/reports/NOPE", **{"Accept-Language": "en"}) == (
        404,
        not_found,
    )
    assert api_message(client, "/api/v1/reports/NOPE", **{"Accept-Language": "en-US,en;q=0.9"}) == (
        404,
        not_found,
    )


def test_api_generic_errors_follow_accept_language(client: FlaskClient) -> None:
    catalogue = read_catalogue()
    missing = "This page does not exist."
    assert api_message(client, "/api/v1/no-such-thing") == (404, catalogue.get(missing).string)
    assert api_message(client, "/api/v1/no-such-thing", **{"Accept-Language": "en"}) == (
        404,
        missing,
    )


def test_templates_follow_force_locale_within_one_request(app: Flask) -> None:
    """Templates keep the request's catalogue, yet `force_locale` (staff e-mails) switches it."""
    from flask import render_template_string
    from flask_babel import force_locale

    page = '{{ _("Report status") }}'
    with app.test_request_context("/"):
        before = render_template_string(page)
        with force_locale("en"):
            forced = render_template_string(page)
        after = render_template_string(page)
    assert before == after == "Status laporan"
    assert forced == "Report status"


def test_template_gettext_renders_what_jinjas_newstyle_gettext_renders(app: Flask) -> None:
    """Templates' `_()` is the portal's own: the same text, escaping and formatting."""
    from flask import render_template_string
    from flask_babel import force_locale
    from jinja2 import Environment

    jinja = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    sources = [
        '{{ _("Report") }}',
        '{{ _("Next step due by %(date)s (working days).", date="<b>1 Mei</b>") }}',
        '{{ _("100%% free & <safe>") }}',
        '{% autoescape false %}{{ _("Report") }} {{ _("a %(x)s", x="<i>") }}{% endautoescape %}',
    ]
    for language in ("id", "en"):
        with app.test_request_context("/"), force_locale(language):
            from flask_babel import get_translations

            jinja.install_gettext_translations(get_translations(), newstyle=True)  # type: ignore[attr-defined]
            for source in sources:
                expected = jinja.from_string(source).render()
                assert render_template_string(source) == expected, (language, source)
    with app.test_request_context("/"), force_locale("id"):
        assert render_template_string('{{ _("Report") }}') == "Lapor"
