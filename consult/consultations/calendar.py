"""A consultation as a calendar entry (iCalendar, RFC 5545): a resident adds the meeting to
the calendar of their phone or computer, which reminds them of it. Written with the
``icalendar`` library (its escaping of text and folding of long lines)."""

from __future__ import annotations

from flask_babel import gettext as _
from icalendar import Calendar, Event

from consult.core.time import as_utc, utcnow

from .models import Consultation

#: How a calendar shows the entry, by the consultation's state.
_STATUS = {"draft": "TENTATIVE", "cancelled": "CANCELLED"}


def calendar_entry(consultation: Consultation, url: str, host: str) -> bytes:
    """The scheduled ``consultation`` as an ``.ics`` file: when, where, what, and ``url`` (its
    page) to come back to. The entry keeps one identity per consultation and site (``host``):
    a calendar that imports it again after a change (a new time, a cancellation) updates the
    entry it has rather than adding a second."""
    calendar = Calendar()
    calendar.add("prodid", "-//Yiting//议厅//ZH")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"consultation-{consultation.id}@{host}")
    event.add("dtstamp", as_utc(utcnow().replace(microsecond=0)))
    event.add("dtstart", as_utc(consultation.scheduled_at))
    event.add("summary", consultation.title)
    event.add("location", consultation.place or _("Online"))
    event.add("description", f"{consultation.community.name}\n{url}")
    event.add("url", url)
    event.add("status", _STATUS.get(consultation.status, "CONFIRMED"))
    calendar.add_component(event)
    return calendar.to_ical()
