"""Lookups remembered in the session (consult.core.database.remembered) never answer from
before a write: adding, flushing, committing, rolling back or a bulk write forgets them."""

import sqlalchemy as sa

from consult.accounts.service import find_user
from consult.communities.models import Membership
from consult.communities.service import get_community, membership
from consult.consultations.models import Participant
from consult.consultations.service import participant
from consult.extensions import db
from tests.conftest import statements_run


def test_a_remembered_lookup_sees_what_the_session_adds_and_deletes(demo, make_user):
    newcomer = make_user("newcomer")
    community = get_community("demo")
    assert participant(newcomer, demo) is None
    assert membership(newcomer, community) is None
    added = Participant(consultation_id=demo.id, user_id=newcomer.id, role="voter")
    db.session.add(added)  # not flushed yet: the next lookup must still find it
    assert participant(newcomer, demo) is added
    db.session.add(Membership(community_id=community.id, user_id=newcomer.id))
    assert membership(newcomer, community).user_id == newcomer.id
    db.session.commit()
    db.session.execute(sa.delete(Membership).where(Membership.user_id == newcomer.id))
    assert membership(newcomer, community) is None
    db.session.rollback()
    assert membership(newcomer, community) is not None


def test_a_changed_role_is_seen_at_once(demo):
    alice = find_user("alice")
    place = participant(alice, demo)
    assert place.role == "voter"
    place.role = "secretary"
    assert participant(alice, demo).role == "secretary"
    db.session.rollback()
    assert participant(alice, demo).role == "voter"


def test_a_consultation_read_for_someone_brings_their_place_without_another_query(demo, make_user):
    from consult.consultations.service import get_consultation

    make_user("newcomer")
    demo_id = demo.id
    db.session.commit()
    db.session.expunge_all()  # nothing loaded: what is asked below is read now
    alice, newcomer = find_user("alice"), find_user("newcomer")
    with statements_run() as statements:
        consultation = get_consultation(demo_id, alice)
        assert participant(alice, consultation).role == "voter"
        assert len(statements) == 1
        assert participant(newcomer, get_consultation(demo_id, newcomer)) is None
        assert len(statements) == 2
    # and the answer is forgotten as any other is: a place added now is found
    db.session.add(Participant(consultation_id=demo_id, user_id=newcomer.id, role="voter"))
    assert participant(newcomer, consultation).role == "voter"
