"""The start page: a signed-in resident finds the consultations they may attend (those they
take part in, and the open ones of their communities) that are in their room now or
announced, across their communities, one tap from each room."""

from __future__ import annotations

import re
from datetime import datetime
from types import SimpleNamespace

from tests.conftest import statements_run

CARD = re.compile(r'<a class="card-link" href="/consultations/(\d+)">([^<]*)</a>')


def _section(page: str) -> str:
    """The home page's list of consultations now and coming (empty if it has none)."""
    start = page.find("My consultations now and coming")
    if start < 0:
        return ""
    return page[start : page.index("My communities", start)]


def _world(demo):
    """Beside the demo's live room, alice's consultations in every state, one she is not
    invited to, and one open to every member; a second community, in Berlin's time, where
    she takes part too; and a third where she is no member, with an open consultation."""
    from consult.accounts.service import find_user
    from consult.communities.models import Membership
    from consult.communities.service import create_community
    from consult.consultations import service as consultations
    from consult.extensions import db

    chair = find_user("chair")
    community = demo.community

    def made(title, where=community, steps=("announced",), alice=True, access="invited", **fields):
        consultation = consultations.create_consultation(
            chair, where, title=title, access=access, **fields
        )
        if alice:
            consultations.set_participant(chair, consultation, "alice", "voter")
        for step in steps:
            consultations.transition(chair, consultation, step)
        return consultation.id

    berlin = create_community(
        SimpleNamespace(is_site_admin=True, id=None), "mitte", "Mitte", timezone="Europe/Berlin"
    )
    alice = find_user("alice")
    db.session.add_all(
        [
            Membership(community_id=berlin.id, user_id=chair.id, role="admin"),
            Membership(community_id=berlin.id, user_id=alice.id, role="resident"),
        ]
    )
    elsewhere = create_community(SimpleNamespace(is_site_admin=True, id=None), "far", "Far")
    db.session.add(Membership(community_id=elsewhere.id, user_id=chair.id, role="admin"))
    db.session.commit()
    return {
        "live": demo.id,
        "later": made("Later", scheduled_at=datetime(2026, 12, 9, 11, 0), place="Hall B"),
        "soon": made("Soon", scheduled_at=datetime(2026, 12, 3, 2, 0), place="Hall A"),
        "unscheduled": made("Unscheduled"),
        "berlin": made("In Berlin", where=berlin, scheduled_at=datetime(2026, 12, 5, 12, 0)),
        "draft": made("Draft", steps=()),
        "closed": made("Closed", steps=("announced", "live", "closed")),
        "not hers": made("Not hers", alice=False),
        "open": made("Open to all", alice=False, access="open", scheduled_at=datetime(2026, 12, 4)),
        "far": made("Far away", where=elsewhere, alice=False, access="open"),
    }


def test_a_resident_finds_their_rooms_now_and_coming_on_the_start_page(demo, auth, client):
    ids = _world(demo)
    auth.login("alice")
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    cards = [(int(cid), title) for cid, title in CARD.findall(_section(page))]
    # In the room now first; then the soonest; one with no time yet last. One open to the
    # members of her community is hers to come to too. A draft, a closed consultation, one
    # she is not invited to and one open in a community she is no member of are not.
    assert [cid for cid, _ in cards] == [
        ids["live"],
        ids["soon"],
        ids["open"],
        ids["berlin"],
        ids["later"],
        ids["unscheduled"],
    ]
    assert cards[0][1] == demo.title
    section = _section(page)
    # Each with its community, and its time in that community's own zone.
    assert re.search(
        r"Soon</a>.*?Demo Community · .*?Thu, Dec 3, 2026, 10:00\s*AM · Hall A", section, re.S
    )
    assert re.search(r"In Berlin</a>.*?Mitte · .*?Sat, Dec 5, 2026, 1:00\s*PM", section, re.S)
    assert re.search(r"Later</a>.*?Wed, Dec 9, 2026, 7:00\s*PM · Hall B", section, re.S)


def test_the_start_page_reads_the_consultations_and_their_communities_in_one_statement(
    demo, auth, client
):
    import sqlalchemy as sa

    from consult.communities.models import Community, Membership
    from consult.extensions import db

    _world(demo)
    # Invited in Mitte while a member there, and no longer one: "My communities" does not
    # read Mitte, and her card there still names it.
    mitte = db.session.scalar(sa.select(Community.id).where(Community.slug == "mitte"))
    db.session.execute(sa.delete(Membership).where(Membership.community_id == mitte))
    db.session.commit()
    auth.login("alice")
    client.get("/")

    db.session.expunge_all()  # as in a request of its own: nothing read is at hand
    with statements_run() as statements:
        page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert len(CARD.findall(_section(page))) == 6
    assert "Mitte · " in _section(page)
    # The reader, their consultations with their communities, their communities: none of
    # the cards asks for its community on its own.
    assert len(statements) == 3, statements


def test_the_start_page_has_no_such_list_for_a_visitor_or_one_with_none(
    demo, auth, client, make_user
):
    english = {"Accept-Language": "en"}
    assert "My consultations now and coming" not in client.get("/", headers=english).get_data(
        as_text=True
    )
    # A new member, invited to nothing, may come to the demo's open room.
    make_user("frank", community=demo.community)
    auth.login("frank", "password-123")
    page = client.get("/", headers=english).get_data(as_text=True)
    assert [int(cid) for cid, _ in CARD.findall(_section(page))] == [demo.id]
    auth.logout()
    make_user("gina")  # no member of any community yet
    auth.login("gina", "password-123")
    page = client.get("/", headers=english).get_data(as_text=True)
    assert "My consultations now and coming" not in page
    assert "You are not a member of any community yet." in page
