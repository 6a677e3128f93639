"""A case handled on the staff side: its page, its actions, the reporter's inbox."""

from __future__ import annotations

from tests.helpers import csrf_token

PUBLIC_NOTE = "PUBLICNOTE5a3e: we are checking the counter records."


def case_url(code: str, action: str = "") -> str:
    return f"/inspectorate/reports/{code}" + (f"/{action}" if action else "")


def act(browser, code: str, action: str, prefix: str, **fields: str):
    """POST one case action form, as the page would send it."""
    data = {f"{prefix}-{name}": value for name, value in fields.items()}
    data[f"{prefix}-csrf_token"] = csrf_token(browser, "/inspectorate/")
    return browser.post(case_url(code, action), data=data)


def change_status(browser, code: str, status: str, public: str = PUBLIC_NOTE, internal: str = ""):
    return act(
        browser, code, "status", "status", status=status, public_note=public, internal_note=internal
    )


def english(browser) -> None:
    browser.get("/bahasa/en?next=/")


def sign_in_inbox(app, code: str, receipt: str):
    """A reporter browser signed in to the inbox of `code`."""
    reporter = app.test_client()
    response = reporter.post(
        "/kotak-masuk/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(reporter, "/kotak-masuk")},
    )
    assert response.status_code == 303
    return reporter
