"""Outcomes through the JSON API: drafting, publishing, corrections, the notice period,
implementation, evaluation — and bad input that is refused with a clear code and leaves
nothing behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from consult.core.time import utcnow
from consult.extensions import db
from consult.outcomes.models import (
    Objection,
    Outcome,
    OutcomeMinorityOpinion,
    OutcomeVersion,
    ProgressReport,
    Rating,
)

from .test_outcomes_support import (
    ABSTAIN_REASON,
    FLOOR_NOTE,
    NO_REASON,
    PLAN_B_REASON,
    SUMMARY,
    close_room,
    draft,
    hold_votes,
    publish,
)


def count(model, **where) -> int:
    query = sa.select(sa.func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


def error(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.fixture
def chair(auth):
    return auth.headers("chair")


@pytest.fixture
def voted(demo):
    """The demo consultation after its votes, closed."""
    return hold_votes(demo)


# --- drafting and publishing -------------------------------------------------------------------


def test_draft_requires_a_closed_consultation_and_the_chair(demo, client, auth, chair):
    response = draft(client, chair, demo.id)
    assert response.status_code == 409
    assert error(response) == "consultation_not_closed"
    close_room(demo)
    response = draft(client, auth.headers("alice"), demo.id)
    assert response.status_code == 403
    assert error(response) == "not_chair"
    response = draft(client, chair, demo.id, summary="   ")
    assert response.status_code == 422
    assert error(response) == "summary_required"
    assert count(Outcome) == 0


def test_bad_draft_fields_are_refused(demo, client, chair):
    close_room(demo)
    cases = [
        ({"due": "next week"}, "invalid_due"),
        ({"notice_days": 0}, "invalid_notice_days"),
        ({"notice_days": "seven"}, "invalid_notice_days"),
        ({"notice_days": 91}, "invalid_notice_days"),
        ({"responsible_user": "nobody-here"}, "user_not_found"),
        ({"summary": {"x": 1}}, "invalid_type"),
    ]
    for fields, code in cases:
        response = draft(client, chair, demo.id, **fields)
        assert response.status_code in (404, 422), (fields, response.get_json())
        assert error(response) == code, fields
    assert count(Outcome) == 0


def test_draft_brings_in_decisions_and_minority_opinions(demo, client, chair, voted):
    response = draft(client, chair, demo.id, minority_opinion="Chair's note: dissent on cost.")
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["status"] == "draft"
    assert data["fingerprint"] is None
    decisions = data["decisions"]
    assert [d["vote_id"] for d in decisions] == [voted["secret_vote_id"], voted["named_vote_id"]]
    secret, named = decisions
    assert secret["motion_id"] == voted["motion_ids"][0]
    assert secret["counts"] == {"yes": 3, "no": 1, "abstain": 1}
    assert secret["result"] == "adopted"
    assert sorted(r["receipt"] for r in secret["receipts"]) == sorted(voted["receipts"].values())
    assert named["counts"] == {"Plan A": 2, "Plan B": 1, "abstain": 0}
    assert named["result"] == "Plan A"
    assert named["receipts"] == []
    texts = [(o["source"], o["text"], o["author"]) for o in data["minority_opinions"]]
    assert ("ballot", NO_REASON, None) in texts  # secret: anonymous
    assert ("ballot", ABSTAIN_REASON, None) in texts
    assert ("ballot", PLAN_B_REASON, "bob") in texts  # open ballot: named
    assert ("floor", FLOOR_NOTE, "dave") in texts
    assert ("chair", "Chair's note: dissent on cost.", "chair") in texts
    assert len(texts) == 5
    # The draft is not public; its chair reads it through the consultation.
    assert client.get(f"/api/v1/notice/{data['id']}").status_code == 404
    assert client.get(f"/api/v1/consultations/{demo.id}/outcome").status_code == 404
    mine = client.get(f"/api/v1/consultations/{demo.id}/outcome", headers=chair)
    assert mine.status_code == 200 and mine.get_json()["status"] == "draft"
    assert client.get(f"/notice/{data['id']}").status_code == 404

    # Drafting again brings nothing in twice and removes nothing.
    response = draft(client, chair, demo.id, summary="Second wording.")
    assert response.status_code == 200
    assert len(response.get_json()["minority_opinions"]) == 5
    assert response.get_json()["summary"] == "Second wording."


def test_publish_puts_it_on_the_notice_board(demo, client, chair, voted):
    outcome_id = publish(client, chair, demo.id, category="环境 Environment", notice_days=10)
    response = client.get(f"/api/v1/notice/{outcome_id}")  # no token: public
    assert response.status_code == 200
    data = response.get_json()
    assert data["version"] == 1
    assert data["status"] == "published"
    assert data["summary"] == SUMMARY
    assert data["fingerprint"].startswith("sha256:") and len(data["fingerprint"]) == 71
    assert data["versions"] == [
        {
            "version": 1,
            "fingerprint": data["fingerprint"],
            "reason": None,
            "published_at": data["published_at"],
            "url": f"/notice/{outcome_id}/v/1",
        }
    ]
    assert {r["receipt"] for r in data["receipts"]} == set(voted["receipts"].values())
    assert all(r["vote_id"] == voted["secret_vote_id"] for r in data["receipts"])
    assert data["decisions"][0]["counts"] == {"yes": 3, "no": 1, "abstain": 1}
    assert data["notice_open"] is True
    assert data["notice_days"] == 10
    db.session.refresh(demo)
    assert demo.status == "outcome_published"
    listing = client.get("/api/v1/notice?community=demo").get_json()
    assert [item["id"] for item in listing["items"]] == [outcome_id]


def test_publishing_announces_it(demo, client, chair, monkeypatch):
    from consult.core import notify

    heard = []
    monkeypatch.setattr(notify, "_listeners", [lambda e, p, r: heard.append((e, p, r))])
    close_room(demo)
    outcome_id = publish(client, chair, demo.id)
    published = [(p, r) for e, p, r in heard if e == "outcome:published"]
    assert published == [
        (
            {
                "id": outcome_id,
                "community": "demo",
                "title": demo.title,
                "consultation_id": demo.id,
            },
            None,
        )
    ]


def test_publishing_twice_is_refused_and_records_nothing(demo, client, chair):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id)
    response = client.post(f"/api/v1/outcomes/{outcome_id}/publish", headers=chair)
    assert response.status_code == 409
    assert error(response) == "already_published"
    assert count(OutcomeVersion, outcome_id=outcome_id) == 1
    # And the draft cannot be rewritten behind the published record.
    response = draft(client, chair, demo.id, summary="Sneaky rewrite")
    assert response.status_code == 409
    assert error(response) == "already_published"
    assert client.get(f"/api/v1/notice/{outcome_id}").get_json()["summary"] == SUMMARY


def test_only_the_chair_publishes(demo, client, auth, chair):
    close_room(demo)
    outcome_id = draft(client, chair, demo.id).get_json()["id"]
    response = client.post(f"/api/v1/outcomes/{outcome_id}/publish", headers=auth.headers("bob"))
    assert response.status_code == 404  # a resident does not learn that a draft exists
    assert error(response) == "outcome_not_found"
    assert client.post(f"/api/v1/outcomes/{outcome_id}/publish").status_code == 401
    assert count(OutcomeVersion) == 0
    assert client.post("/api/v1/outcomes/999/publish", headers=chair).status_code == 404


# --- corrections ---------------------------------------------------------------------------------


def test_a_correction_is_a_new_version_and_the_old_one_stays(demo, client, chair, voted):
    outcome_id = publish(client, chair, demo.id)
    first = client.get(f"/api/v1/notice/{outcome_id}").get_json()
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/corrections", json={"summary": "Corrected."}, headers=chair
    )
    assert response.status_code == 422
    assert error(response) == "reason_required"
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/corrections",
        json={"reason": "Nothing changed", "summary": SUMMARY},
        headers=chair,
    )
    assert error(response) == "nothing_changed"
    assert count(OutcomeVersion, outcome_id=outcome_id) == 1

    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/corrections",
        json={"reason": "The due date was wrong.", "due": "2031-05-01"},
        headers=chair,
    )
    assert response.status_code == 201, response.get_json()
    second = response.get_json()
    assert second["version"] == 2
    assert second["due"] == "2031-05-01"
    assert second["reason"] == "The due date was wrong."
    assert second["fingerprint"] != first["fingerprint"]
    assert [v["version"] for v in second["versions"]] == [1, 2]
    assert second["versions"][1]["reason"] == "The due date was wrong."
    # Every receipt and minority opinion is carried into the new version too.
    assert second["receipts"] == first["receipts"]
    assert second["minority_opinions"] == first["minority_opinions"]

    # The first version is still readable at its address with its own fingerprint.
    old = client.get(f"/api/v1/notice/{outcome_id}/versions/1").get_json()
    assert old["version"] == 1 and old["due"] is None
    assert old["fingerprint"] == first["fingerprint"]
    page = client.get(f"/notice/{outcome_id}/v/1")
    assert page.status_code == 200
    assert first["fingerprint"] in page.get_data(as_text=True)
    latest = client.get(f"/notice/{outcome_id}").get_data(as_text=True)
    assert second["fingerprint"] in latest and "The due date was wrong." in latest
    assert client.get(f"/notice/{outcome_id}/v/3").status_code == 404


def test_a_correction_may_add_a_minority_opinion_but_never_remove_one(demo, client, chair, voted):
    outcome_id = publish(client, chair, demo.id)
    before = count(OutcomeMinorityOpinion, outcome_id=outcome_id)
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/corrections",
        json={"reason": "An opinion was missing.", "minority_opinion": "Erin: more bike racks."},
        headers=chair,
    )
    assert response.status_code == 201
    assert count(OutcomeMinorityOpinion, outcome_id=outcome_id) == before + 1
    assert response.get_json()["minority_opinions"][-1]["text"] == "Erin: more bike racks."

    from consult.outcomes.models import PublishedRecordError

    opinion = db.session.scalar(sa.select(OutcomeMinorityOpinion).limit(1))
    db.session.delete(opinion)
    with pytest.raises(PublishedRecordError):
        db.session.flush()
    db.session.rollback()
    version = db.session.scalar(sa.select(OutcomeVersion).limit(1))
    version.record = "{}"
    with pytest.raises(PublishedRecordError):
        db.session.flush()
    db.session.rollback()


# --- objections ----------------------------------------------------------------------------------


def test_objections_during_the_notice_period(demo, client, auth, chair):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id)
    alice = auth.headers("alice")
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/objections", json={"reason": "  "}, headers=alice
    )
    assert response.status_code == 422 and error(response) == "reason_required"
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/objections", json={"reason": "x" * 2001}, headers=alice
    )
    assert response.status_code == 422
    assert count(Objection) == 0

    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/objections",
        json={"reason": "车棚挡住了消防通道。The shed blocks the fire lane."},
        headers=alice,
    )
    assert response.status_code == 201, response.get_json()
    objection_id = response.get_json()["id"]
    assert response.get_json()["version"] == 1

    response = client.post(
        f"/api/v1/objections/{objection_id}/answer", json={"answer": "No."}, headers=alice
    )
    assert response.status_code == 403 and error(response) == "not_chair"
    response = client.post(
        f"/api/v1/objections/{objection_id}/answer",
        json={"answer": "已核实，车棚退后两米。Checked: the shed moves back two metres."},
        headers=chair,
    )
    assert response.status_code == 200
    response = client.post(
        f"/api/v1/objections/{objection_id}/answer", json={"answer": "Again"}, headers=chair
    )
    assert response.status_code == 409 and error(response) == "already_answered"

    public = client.get(f"/api/v1/notice/{outcome_id}").get_json()
    assert public["objections"] == [
        {
            "id": objection_id,
            "version": 1,
            "reason": "车棚挡住了消防通道。The shed blocks the fire lane.",
            "created_at": public["objections"][0]["created_at"],
            "answer": "已核实，车棚退后两米。Checked: the shed moves back two metres.",
            "answered_at": public["objections"][0]["answered_at"],
        }
    ]
    assert "author" not in public["objections"][0]  # names are not public

    for n in range(4):
        response = client.post(
            f"/api/v1/outcomes/{outcome_id}/objections", json={"reason": f"More {n}"}, headers=alice
        )
        assert response.status_code == 201
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/objections", json={"reason": "Sixth"}, headers=alice
    )
    assert response.status_code == 429 and error(response) == "too_many_objections"
    assert count(Objection) == 5


def test_a_non_member_cannot_object(demo, client, auth, chair, make_user):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id)
    make_user("outsider", password="password-123")
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/objections",
        json={"reason": "I live elsewhere."},
        headers=auth.headers("outsider", "password-123"),
    )
    assert response.status_code == 403
    assert error(response) == "not_member"
    response = client.post(f"/api/v1/outcomes/{outcome_id}/objections", json={"reason": "anon"})
    assert response.status_code == 401
    assert count(Objection) == 0


def test_objecting_after_the_notice_period_is_refused(demo, client, auth, chair):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id)
    outcome = db.session.get(Outcome, outcome_id)
    outcome.notice_until = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/objections",
        json={"reason": "Too late?"},
        headers=auth.headers("alice"),
    )
    assert response.status_code == 409
    assert error(response) == "notice_period_over"
    assert count(Objection) == 0
    assert client.get(f"/api/v1/notice/{outcome_id}").get_json()["notice_open"] is False


# --- implementation and evaluation -----------------------------------------------------------------


def test_progress_then_completion_then_ratings(demo, client, auth, chair):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id, responsible_user="carol")
    alice, carol = auth.headers("alice"), auth.headers("carol")

    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/ratings", json={"stars": 5}, headers=alice
    )
    assert response.status_code == 409 and error(response) == "not_completed"

    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/progress", json={"percent": 10, "note": "x"}, headers=alice
    )
    assert response.status_code == 403 and error(response) == "not_chair"
    for bad in (101, -1, "half", 12.5, True):
        response = client.post(
            f"/api/v1/outcomes/{outcome_id}/progress", json={"percent": bad}, headers=chair
        )
        assert response.status_code == 422 and error(response) == "invalid_percent", bad
    assert count(ProgressReport) == 0

    # The responsible party's account reports; the first report starts implementation.
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/progress",
        json={"percent": 40, "note": "地基完成。Foundations done."},
        headers=carol,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "implementing"
    db.session.refresh(demo)
    assert demo.status == "implementing"
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/progress", json={"percent": 100}, headers=chair
    )
    assert response.status_code == 201
    # 100 % does not complete it by itself: the chair confirms.
    assert client.get(f"/api/v1/notice/{outcome_id}").get_json()["status"] == "implementing"

    response = client.post(f"/api/v1/outcomes/{outcome_id}/complete", headers=carol)
    assert response.status_code == 403
    response = client.post(f"/api/v1/outcomes/{outcome_id}/complete", headers=chair)
    assert response.status_code == 200
    assert response.get_json()["status"] == "completed"
    db.session.refresh(demo)
    assert demo.status == "completed"
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/progress", json={"percent": 100}, headers=chair
    )
    assert response.status_code == 409 and error(response) == "already_completed"

    for bad in (0, 6, "five", 4.5, None):
        response = client.post(
            f"/api/v1/outcomes/{outcome_id}/ratings", json={"stars": bad}, headers=alice
        )
        assert response.status_code == 422 and error(response) == "invalid_stars", bad
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/ratings",
        json={"stars": 4, "comment": "很好 Good"},
        headers=alice,
    )
    assert response.status_code == 201
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/ratings", json={"stars": 1}, headers=alice
    )
    assert response.status_code == 409 and error(response) == "already_rated"
    client.post(f"/api/v1/outcomes/{outcome_id}/ratings", json={"stars": 2}, headers=carol)
    assert count(Rating) == 2
    assert db.session.scalar(sa.select(Rating.stars).where(Rating.user_id != None).limit(1)) == 4  # noqa: E711

    data = client.get(f"/api/v1/notice/{outcome_id}").get_json()
    assert data["ratings"] == {
        "count": 2,
        "average": 3.0,
        "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0},
    }
    assert [p["percent"] for p in data["progress"]] == [40, 100]
    assert data["rating_comments"][0]["comment"] == "很好 Good"


def test_a_non_member_cannot_rate(demo, client, auth, chair, make_user):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id)
    client.post(f"/api/v1/outcomes/{outcome_id}/complete", headers=chair)
    make_user("outsider", password="password-123")
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/ratings",
        json={"stars": 1},
        headers=auth.headers("outsider", "password-123"),
    )
    assert response.status_code == 403 and error(response) == "not_member"
    assert count(Rating) == 0


# --- the public list ----------------------------------------------------------------------------


def test_notice_list_filters_search_and_pages(demo, client, chair):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id, category="环境")
    listing = client.get("/api/v1/notice?q=停车棚").get_json()
    assert [i["id"] for i in listing["items"]] == [outcome_id]
    assert client.get("/api/v1/notice?q=BICYCLE").get_json()["total"] == 1  # case-insensitive
    assert client.get("/api/v1/notice?q=游泳池").get_json()["total"] == 0
    assert client.get("/api/v1/notice?q=100%25").get_json()["total"] == 0  # % is literal
    assert client.get("/api/v1/notice?category=环境").get_json()["total"] == 1
    assert client.get("/api/v1/notice?category=other").get_json()["total"] == 0
    assert client.get("/api/v1/notice?status=published").get_json()["total"] == 1
    assert client.get("/api/v1/notice?status=completed").get_json()["total"] == 0
    assert client.get("/api/v1/notice?community=nowhere").get_json()["total"] == 0
    response = client.get("/api/v1/notice?status=draft")
    assert response.status_code == 422 and error(response) == "invalid_status"
    page = client.get("/api/v1/notice?page=2").get_json()
    assert page["items"] == [] and page["page"] == 2 and page["pages"] == 1


def test_a_draft_takes_no_objection_progress_or_correction(demo, client, chair):
    close_room(demo)
    outcome_id = draft(client, chair, demo.id).get_json()["id"]
    calls = [
        ("progress", {"percent": 10}),
        ("corrections", {"reason": "Why", "summary": "New"}),
        ("objections", {"reason": "Objection"}),
        ("complete", None),
    ]
    for path, body in calls:
        response = client.post(f"/api/v1/outcomes/{outcome_id}/{path}", json=body, headers=chair)
        assert response.status_code == 409, path
        assert error(response) == "not_published", path
    assert count(ProgressReport) == count(Objection) == count(OutcomeVersion) == 0
    assert db.session.get(Outcome, outcome_id).status == "draft"
