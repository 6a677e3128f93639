"""The reporter's inbox: sign-in with code and receipt, evidence upload."""

from __future__ import annotations

import io

from tests.helpers import csrf_token


def sign_in(client, code: str, receipt: str, address: str = "198.51.100.1"):
    """POST the sign-in form from a given client address."""
    token = csrf_token(client, "/kotak-masuk")
    return client.post(
        "/kotak-masuk/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def upload(client, *files: tuple[bytes, str]):
    """POST evidence files to the signed-in inbox."""
    data = {
        "csrf_token": csrf_token(client, "/kotak-masuk"),
        "evidence": [(io.BytesIO(content), name) for content, name in files],
    }
    return client.post("/kotak-masuk/bukti", data=data, content_type="multipart/form-data")
