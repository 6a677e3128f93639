"""The citizen's form as a browser fills it, and the CSRF token a browser keeps."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

# A complete, valid report as the HTML form sends it.
VALID_FORM = {
    "category": "pungli",
    "service": "ktp_el",
    "unit": "mpp",
    "incident_date": "2026-10-14",
    "who_asked": "broker",
    "amount_demanded": "150rb",
    "paid": "yes",
    "promised": "KTP-el jadi hari ini",
    "person_description": "Laki-laki berkemeja batik di dekat loket 3",
    "chronology": "Saya datang jam sembilan pagi, calo menawarkan KTP-el cepat dengan bayaran.",
    "contact": "",
}

# The same report as the JSON API takes it.
VALID_JSON: dict[str, Any] = {
    **{key: value for key, value in VALID_FORM.items() if key not in ("amount_demanded", "paid")},
    "amount_demanded": 150000,
    "paid": True,
}

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_SUBMISSION = re.compile(r'name="submission" value="([^"]*)"')
_CODE = re.compile(r'id="tracking-code">([^<]+)<')
_RECEIPT = re.compile(r'id="receipt">([^<]+)<')

SESSION_COOKIE = "lp_session"


class PortalClient(FlaskClient):
    """A test client that keeps the CSRF token it read, as a browser keeps a form open.

    The token belongs to the session cookie: it is read from a page once and reused
    while that cookie stays the same; once the session changes (sign-in rotates it,
    sign-out clears it) the next form is fetched again.
    """

    kept_csrf: tuple[str | None, str] | None = None

    def session_cookie(self) -> str | None:
        cookie = self.get_cookie(SESSION_COOKIE)
        return cookie.value if cookie is not None else None

    def keep_csrf(self, token: str) -> None:
        self.kept_csrf = (self.session_cookie(), token)

    def kept_csrf_token(self) -> str | None:
        """The token read for the current session, if one was read."""
        if self.kept_csrf is not None and self.kept_csrf[0] == self.session_cookie():
            return self.kept_csrf[1]
        return None


def read_csrf_token(client: FlaskClient, url: str) -> str:
    """The CSRF token the page at `url` hands out, as a browser reads it from the form."""
    page = client.get(url)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    if isinstance(client, PortalClient):
        client.keep_csrf(match.group(1))
    return match.group(1)


def csrf_token(client: FlaskClient, url: str | None = None) -> str:
    """A CSRF token for this client's session.

    With `url`, read from that page (fetched now). Without, the token this client
    already holds for its session, or one read from the report form.
    """
    if url is None:
        kept = client.kept_csrf_token() if isinstance(client, PortalClient) else None
        if kept is not None:
            return kept
        url = "/lapor"
    return read_csrf_token(client, url)


def review_report(client: FlaskClient, **overrides: str) -> Any:
    """POST the form to the review step; returns the response."""
    data = {**VALID_FORM, **overrides, "csrf_token": csrf_token(client), "action": "review"}
    return client.post("/lapor", data=data)


def submit_report(client: FlaskClient, **overrides: str) -> tuple[str, str]:
    """File a report through form -> review -> send; returns (tracking code, receipt)."""
    review = review_report(client, **overrides)
    assert review.status_code == 200, review.get_data(as_text=True)
    submission = _SUBMISSION.search(review.get_data(as_text=True))
    assert submission
    data = {
        **VALID_FORM,
        **overrides,
        "csrf_token": csrf_token(client),
        "submission": submission.group(1),
    }
    sent = client.post("/lapor/kirim", data=data)
    assert sent.status_code == 201, sent.get_data(as_text=True)
    text = sent.get_data(as_text=True)
    code, receipt = _CODE.search(text), _RECEIPT.search(text)
    assert code and receipt
    return code.group(1), receipt.group(1)
