"""What a refused form tells people: a summary on top linking each field, marked fields."""

from __future__ import annotations

import re

from tests.helpers import VALID_FORM, csrf_token, review_report


def _summary(html: str) -> str:
    match = re.search(r'<div class="error-summary" id="error-summary".*?</div>', html, re.S)
    assert match, "no error summary"
    return match.group(0)


def test_a_refused_report_form_opens_on_a_summary_that_links_every_field(client):
    data = {"csrf_token": csrf_token(client), "action": "review", "chronology": "pendek"}
    response = client.post("/lapor", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    summary = _summary(html)
    # Focused on arrival without JavaScript, and announced.
    assert "autofocus" in summary and 'tabindex="-1"' in summary and 'role="alert"' in summary
    assert html.index('id="error-summary"') < html.index("<form")
    for target in ("category", "service", "unit", "incident_date", "who_asked-0", "chronology"):
        assert f'href="#{target}"' in summary, target
        assert f'id="{target}"' in html
    # Each field in error says so and points at its message (and hint).
    chronology = re.search(r"<textarea[^>]*name=\"chronology\"[^>]*>", html).group(0)
    assert 'aria-invalid="true"' in chronology
    assert 'aria-describedby="chronology-hint chronology-errors"' in chronology
    assert 'id="chronology-errors"' in html
    who = re.search(r'<fieldset[^>]*id="who_asked"[^>]*>', html).group(0)
    assert 'aria-describedby="who_asked-errors"' in who


def test_a_valid_form_has_no_summary_and_no_field_marked(client):
    html = client.get("/lapor").get_data(as_text=True)
    assert "error-summary" not in html and "aria-invalid" not in html


def test_hints_ask_only_for_what_is_missing(client):
    client.get("/bahasa/en?next=/")
    told = "Saya datang ke loket tiga jam sembilan pagi. " * 3  # 135 characters, in order
    page = review_report(
        client, paid="unknown", chronology=told, promised="KTP-el jadi hari ini"
    ).get_data(as_text=True)
    assert "Say whether money was paid" not in page  # "I prefer not to say" is an answer
    assert "Tell what happened in order" not in page
    short = review_report(client, paid="", chronology="Calo minta uang di loket tiga.")
    assert "Tell what happened in order" in short.get_data(as_text=True)
    assert "Say whether money was paid" in short.get_data(as_text=True)


def test_a_reloaded_receipt_page_says_what_to_do(client):
    client.get("/bahasa/en?next=/")
    review = review_report(client).get_data(as_text=True)
    submission = re.search(r'name="submission" value="([^"]+)"', review).group(1)
    data = {**VALID_FORM, "submission": submission, "csrf_token": csrf_token(client)}
    assert client.post("/lapor/kirim", data=data).status_code == 201
    again = client.post("/lapor/kirim", data=data)
    assert again.status_code == 409
    html = again.get_data(as_text=True)
    assert "was not filed a second time" in html
    assert 'href="/kotak-masuk"' in html and 'href="/status"' in html and 'href="/lapor"' in html
