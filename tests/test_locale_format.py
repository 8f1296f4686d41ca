"""Times are stored in UTC and shown in the community's time zone (Asia/Shanghai unless the
community says otherwise), written the way each language writes dates."""

from __future__ import annotations

import re
from html import unescape

import pytest

SCHEDULED_LOCAL = "2030-05-01T10:00"  # as a chair in Shanghai types it
SCHEDULED_UTC = "2030-05-01T02:00:00Z"

#: When a meeting is, in each language: the weekday, the day and the time to the minute in
#: the language's own hours (the space before "AM" may be narrow).
SHANGHAI = {
    "en": re.compile(r"Wed, May 1, 2030,?\s10:00\sAM"),
    "zh": re.compile(r"2030年5月1日周三\s*10:00"),
}
BERLIN = {  # 02:00 UTC is 04:00 in Berlin in May (summer time)
    "en": re.compile(r"Wed, May 1, 2030,?\s4:00\sAM"),
    "zh": re.compile(r"2030年5月1日周三\s*04:00"),
}


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(text).split())


def announce(client, headers, community, scheduled_at) -> int:
    answer = client.post(
        "/api/v1/consultations",
        json={"community": community, "title": "Bicycle shed", "scheduled_at": scheduled_at},
        headers=headers,
    )
    assert answer.status_code == 201, answer.get_json()
    cid = answer.get_json()["id"]
    assert answer.get_json()["scheduled_at"] == SCHEDULED_UTC  # stored and sent in UTC
    moved = client.post(
        f"/api/v1/consultations/{cid}/transition", json={"to": "announced"}, headers=headers
    )
    assert moved.status_code == 200, moved.get_json()
    return cid


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_scheduled_time_shows_in_shanghai_time_in_each_language(demo, client, auth, lang):
    cid = announce(client, auth.headers("chair"), "demo", SCHEDULED_LOCAL)
    for path in (f"/consultations/{cid}", "/communities/demo"):
        text = page_text(client.get(path, headers={"Accept-Language": lang}))
        assert SHANGHAI[lang].search(text), (path, text[:600])
        other = "zh" if lang == "en" else "en"
        assert not SHANGHAI[other].search(text), f"{path} mixes in the other language's format"
        assert "02:00" not in text and "2:00:00" not in text, "shown in UTC"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_community_shows_times_in_its_own_time_zone(app, client, make_user, lang):
    from consult.accounts.service import create_user
    from consult.communities.service import create_community
    from consult.extensions import db

    admin = create_user("siteadmin", "Site Admin", "password-123")
    admin.is_site_admin = True
    db.session.commit()
    community = create_community(admin, "berlin", "Berlin Friends", timezone="Europe/Berlin")
    make_user("hans", community=community, role="admin")
    token = client.post("/api/v1/token", json={"username": "hans", "password": "password-123"})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}

    cid = announce(client, headers, "berlin", SCHEDULED_UTC)
    text = page_text(client.get(f"/consultations/{cid}", headers={"Accept-Language": lang}))
    assert BERLIN[lang].search(text), text[:600]
    assert not SHANGHAI[lang].search(text)


@pytest.mark.parametrize(
    "lang, until",
    [
        ("en", r"Objections open until Wed, May 1, 2030,?\s6:00\sPM"),
        ("zh", r"2030年5月1日周三\s*18:00"),
    ],
)
def test_the_notice_periods_end_reads_as_a_day_and_a_minute(demo, client, auth, lang, until):
    from datetime import datetime

    from consult.extensions import db
    from consult.outcomes.models import Outcome
    from tests.test_outcomes_support import hold_votes, publish

    hold_votes(demo)
    outcome_id = publish(client, auth.headers("chair"), demo.id)
    outcome = db.session.get(Outcome, outcome_id)
    outcome.notice_until = datetime(2030, 5, 1, 10, 0)  # 18:00 in Shanghai
    db.session.commit()
    text = page_text(client.get(f"/notice/{outcome_id}", headers={"Accept-Language": lang}))
    assert re.search(until, text), text[:800]
    assert "18:00:00" not in text and "6:00:00" not in text  # to the minute, not the second
