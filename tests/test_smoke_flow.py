"""The citizen's happy path through the HTML form, end to end."""

from tests.helpers import submit_report


def test_report_then_status(client):
    code, _receipt = submit_report(client)
    assert code.startswith("SRG-")
    page = client.get(f"/status/{code}")
    assert page.status_code == 200
    assert code in page.get_data(as_text=True)
