"""A consultation's time and place as a calendar entry (``/consultations/<id>/calendar.ics``):
for whoever may see the consultation's page, linked from it while it is announced or live."""

from __future__ import annotations

from datetime import datetime

import pytest
from icalendar import Calendar


def _consultation(demo, status="announced", access="open", **fields):
    from consult.accounts.service import find_user
    from consult.consultations import service as consultations

    chair = find_user("chair")
    consultation = consultations.create_consultation(
        chair, demo.community, title="Trees, planting; the east lawn", access=access, **fields
    )
    steps = {"draft": [], "announced": ["announced"], "cancelled": ["announced", "cancelled"]}
    for step in steps[status]:
        consultations.transition(
            chair, consultation, step, reason="Rain" if step == "cancelled" else None
        )
    return consultation.id


def _event(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type == "text/calendar; charset=utf-8"
    [event] = Calendar.from_ical(response.data).walk("VEVENT")
    return event


def test_an_announced_consultation_goes_into_a_calendar_at_its_time_and_place(demo, client):
    cid = _consultation(demo, scheduled_at=datetime(2026, 12, 3, 2, 0), place="Hall A, building 3")
    page = client.get(f"/consultations/{cid}", headers={"Accept-Language": "en"})
    assert (
        f'href="/consultations/{cid}/calendar.ics" download>Add to my calendar<'
        in page.get_data(as_text=True)
    )
    response = client.get(f"/consultations/{cid}/calendar.ics")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="consultation-{cid}.ics"'
    )
    event = _event(response)
    start = event.decoded("dtstart")
    assert start.utcoffset().total_seconds() == 0
    assert start.replace(tzinfo=None) == datetime(2026, 12, 3, 2, 0)  # 10:00 in Shanghai
    assert str(event["summary"]) == "Trees, planting; the east lawn"
    assert str(event["location"]) == "Hall A, building 3"
    assert str(event["url"]).endswith(f"/consultations/{cid}")
    assert str(event["description"]).endswith(f"/consultations/{cid}")
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["uid"]) == f"consultation-{cid}@localhost"
    # Escaped as RFC 5545 says: the comma and semicolon of the text are not separators.
    assert b"SUMMARY:Trees\\, planting\\; the east lawn" in response.data


def test_a_cancelled_consultation_cancels_the_entry_and_the_page_offers_none(demo, client):
    cid = _consultation(demo, status="cancelled", scheduled_at=datetime(2026, 12, 3, 2, 0))
    assert "calendar.ics" not in client.get(f"/consultations/{cid}").get_data(as_text=True)
    event = _event(client.get(f"/consultations/{cid}/calendar.ics"))
    assert str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == f"consultation-{cid}@localhost"  # the same entry, updated


def test_no_time_no_entry(demo, client):
    cid = _consultation(demo)
    assert "calendar.ics" not in client.get(f"/consultations/{cid}").get_data(as_text=True)
    response = client.get(f"/consultations/{cid}/calendar.ics", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert "This consultation has no time set yet." in response.get_data(as_text=True)


@pytest.mark.parametrize("who", [None, "bob"])
def test_an_invited_consultation_is_in_no_one_elses_calendar(demo, client, auth, who):
    cid = _consultation(demo, access="invited", scheduled_at=datetime(2026, 12, 3, 2, 0))
    if who:
        auth.login(who)
    response = client.get(f"/consultations/{cid}/calendar.ics")
    assert response.status_code in (403, 404)
    assert b"VCALENDAR" not in response.data


def test_a_draft_is_in_no_residents_calendar(demo, client, auth):
    cid = _consultation(demo, status="draft", scheduled_at=datetime(2026, 12, 3, 2, 0))
    auth.login("alice")
    assert client.get(f"/consultations/{cid}/calendar.ics").status_code == 404
