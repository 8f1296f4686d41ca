"""The JSON API for motions, amendments and votes: every call, every refusal, and nothing
recorded when a call is refused."""

import pytest
import sqlalchemy as sa

from consult.extensions import db
from consult.motions.models import (
    Amendment,
    Ballot,
    BallotChange,
    MinorityOpinion,
    Motion,
    MotionRevision,
    Second,
    SecretBallot,
    Vote,
    VoterMark,
)

pytestmark = pytest.mark.usefixtures("english")


def rows(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def snapshot():
    models = (Motion, MotionRevision, Amendment, Second, Vote, Ballot, BallotChange,
              SecretBallot, VoterMark, MinorityOpinion)  # fmt: skip
    db.session.rollback()
    return {m.__tablename__: rows(m) for m in models}


class Api:
    def __init__(self, client, auth):
        self.client = client
        self.auth = auth
        self.tokens = {}

    def headers(self, who):
        if who is None:
            return {}
        if who not in self.tokens:
            self.tokens[who] = self.auth.token(who)
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, path, who, body=None):
        kwargs = {"headers": self.headers(who)}
        if body is not None:
            kwargs["json"] = body
        return self.client.post("/api/v1" + path, **kwargs)

    def patch(self, path, who, body):
        return self.client.patch("/api/v1" + path, json=body, headers=self.headers(who))

    def get(self, path, who=None):
        return self.client.get("/api/v1" + path, headers=self.headers(who))


@pytest.fixture
def api(client, auth, demo):
    return Api(client, auth)


def error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body


def seconded(api, demo, title="Bicycle shed", text="Build a covered bicycle shed."):
    created = api.post(f"/consultations/{demo.id}/motions", "alice", {"title": title, "text": text})
    assert created.status_code == 201, created.get_json()
    motion_id = created.get_json()["id"]
    assert api.post(f"/motions/{motion_id}/submit", "alice").status_code == 200
    assert api.post(f"/motions/{motion_id}/second", "bob").status_code == 200
    return motion_id


def opened(api, demo, **settings):
    motion_id = seconded(api, demo)
    body = {"kind": "yes_no_abstain", "secret": False, "threshold": "simple", "quorum": None,
            "results": "live", **settings}  # fmt: skip
    response = api.post(f"/motions/{motion_id}/votes", "chair", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- motions -----------------------------------------------------------------------------


def test_motion_calls(api, demo):
    response = api.post(
        f"/consultations/{demo.id}/motions", "alice", {"title": "Shed", "text": "Build."}
    )
    assert response.status_code == 201
    motion = response.get_json()
    assert (motion["state"], motion["revision"], motion["proposer"]["username"]) == (
        "draft", 1, "alice"
    )  # fmt: skip
    mid = motion["id"]
    listed = api.get(f"/consultations/{demo.id}/motions", "bob").get_json()
    assert [m["id"] for m in listed["motions"]] == [mid] and listed["votes"] == []
    edited = api.patch(f"/motions/{mid}", "alice", {"text": "Build a covered shed."}).get_json()
    assert edited["revision"] == 2 and edited["title"] == "Shed"
    diff = api.get(f"/motions/{mid}/diff?from=1&to=2", "bob").get_json()
    assert {"op": "insert", "text": " a covered shed"} in diff["segments"]
    assert diff["from"] == 1 and diff["to"] == 2
    assert api.post(f"/motions/{mid}/submit", "alice").get_json()["state"] == "submitted"
    seconded_ = api.post(f"/motions/{mid}/second", "carol").get_json()
    assert seconded_["state"] == "seconded"
    assert [s["username"] for s in seconded_["seconders"]] == ["carol"]
    detail = api.get(f"/motions/{mid}", "dave").get_json()
    assert [r["number"] for r in detail["revisions"]] == [1, 2]
    assert detail["revisions"][0]["text"] == "Build."
    assert detail["amendments"] == [] and detail["votes"] == []
    tabled = api.post(f"/motions/{mid}/table", "chair", {"reason": "Next meeting"}).get_json()
    assert (tabled["state"], tabled["state_reason"]) == ("tabled", "Next meeting")
    other = api.post(f"/consultations/{demo.id}/motions", "bob", {"title": "Bins", "text": ""})
    withdrawn = api.post(f"/motions/{other.get_json()['id']}/withdraw", "bob")
    assert withdrawn.get_json()["state"] == "withdrawn"


def test_motion_refusals_record_nothing(api, demo):
    before = snapshot()
    path = f"/consultations/{demo.id}/motions"
    error(api.post(path, None, {"title": "x"}), 401, "unauthorized")
    error(api.post(path, "alice", {"title": ""}), 422, "title_required")
    error(api.post(path, "alice", {"title": "t" * 201}), 422, "title_too_long")
    error(api.post(path, "alice", {"title": ["x"]}), 422, "invalid_type")
    error(
        api.post("/consultations/999/motions", "alice", {"title": "x"}),
        404,
        "consultation_not_found",
    )
    error(api.get("/motions/999"), 404, "motion_not_found")
    assert snapshot() == before
    mid = api.post(path, "alice", {"title": "Shed", "text": ""}).get_json()["id"]
    error(api.post(f"/motions/{mid}/second", "bob"), 409, "illegal_motion_state")
    error(api.patch(f"/motions/{mid}", "bob", {"text": "mine now"}), 403, "not_proposer")
    error(api.post(f"/motions/{mid}/withdraw", "bob"), 403, "not_proposer")
    error(api.post(f"/motions/{mid}/table", "bob"), 403, "not_chair")
    error(api.post(f"/motions/{mid}/votes", "chair", {}), 409, "illegal_motion_state")
    api.post(f"/motions/{mid}/submit", "alice")
    error(api.post(f"/motions/{mid}/second", "alice"), 403, "cannot_second_own")
    error(api.post(f"/motions/{mid}/votes", "chair", {}), 409, "not_enough_seconders")
    api.post(f"/motions/{mid}/second", "bob")
    error(api.post(f"/motions/{mid}/second", "bob"), 409, "already_seconded")
    error(api.get(f"/motions/{mid}/diff?from=1&to=7"), 404, "revision_not_found")
    after = snapshot()
    assert after["motion_second"] == 1 and after["motion"] == 1 and after["vote"] == 0


def test_amendment_calls(api, demo):
    mid = seconded(api, demo, text="Build a square.")
    response = api.post(
        f"/motions/{mid}/amendments", "carol", {"text": "Build a square with trees."}
    )
    assert response.status_code == 201
    first = response.get_json()
    assert first["status"] == "proposed" and first["motion"]["id"] == mid
    error(api.post(f"/amendments/{first['id']}/accept", "carol"), 403, "not_chair")
    accepted = api.post(f"/amendments/{first['id']}/accept", "chair").get_json()
    assert accepted["status"] == "accepted" and accepted["revision"] == 2
    assert accepted["motion"]["text"] == "Build a square with trees."
    second = api.post(
        f"/motions/{mid}/amendments", "dave", {"text": "Build a car park."}
    ).get_json()
    error(api.post(f"/amendments/{second['id']}/reject", "chair", {}), 422, "reason_required")
    rejected = api.post(f"/amendments/{second['id']}/reject", "chair", {"reason": "Not asked"})
    assert rejected.get_json()["reason"] == "Not asked"
    third = api.post(f"/motions/{mid}/amendments", "erin", {"text": "Build a garden."}).get_json()
    response = api.post(f"/amendments/{third['id']}/votes", "chair", {"threshold": "simple"})
    assert response.status_code == 201
    vote = response.get_json()
    assert vote["amendment_id"] == third["id"] and vote["motion_id"] == mid
    assert api.get(f"/amendments/{third['id']}").get_json()["status"] == "voting"
    error(api.post(f"/motions/{mid}/amendments", "erin", {"text": ""}), 422, "text_required")
    error(api.post("/amendments/999/accept", "chair"), 404, "amendment_not_found")
    detail = api.get(f"/motions/{mid}").get_json()
    assert [a["status"] for a in detail["amendments"]] == ["accepted", "rejected", "voting"]
    assert detail["amendments"][2]["vote_id"] == vote["id"]


# --- votes -------------------------------------------------------------------------------


def test_open_vote_answers_with_the_settings(api, demo):
    vote = opened(api, demo, threshold="majority_cast", quorum="2/4", results="hidden")
    assert vote["id"] and vote["status"] == "open"
    assert (vote["threshold"], vote["quorum"], vote["results"], vote["secret"]) == (
        "majority_cast", "1/2", "hidden", False
    )  # fmt: skip
    assert vote["eligible"] == 6 and vote["ballots_cast"] == 0
    assert (
        vote["rule_text"] == "Passes if yes is more than half of all ballots, abstentions included."
    )
    assert "counts" not in vote  # hidden
    assert vote["choices"] == ["yes", "no", "abstain"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "ranked"}, 422, "invalid_kind"),
        ({"kind": "options", "options": ["Only"]}, 422, "invalid_options"),
        ({"kind": "options", "options": "A,B"}, 422, "invalid_options"),
        ({"kind": "options", "options": [f"P{n}" for n in range(11)]}, 422, "invalid_options"),
        ({"threshold": "unanimous"}, 422, "invalid_threshold"),
        ({"quorum": "half"}, 422, "invalid_quorum"),
        ({"quorum": 0.5}, 422, "invalid_quorum"),
        ({"results": "later"}, 422, "invalid_results"),
        ({"secret": "no"}, 422, "invalid_secret"),
        ({"deadline": "tomorrow"}, 422, "invalid_deadline"),
        ({"deadline": "2001-01-01T00:00:00Z"}, 422, "invalid_deadline"),
    ],
)
def test_open_vote_refusals(api, demo, body, status, code):
    mid = seconded(api, demo)
    before = snapshot()
    error(api.post(f"/motions/{mid}/votes", "chair", body), status, code)
    assert snapshot() == before


def test_open_vote_by_a_resident_is_refused(api, demo):
    mid = seconded(api, demo)
    before = snapshot()
    error(api.post(f"/motions/{mid}/votes", "alice", {"kind": "yes_no_abstain"}), 403, "not_chair")
    assert snapshot() == before


def test_option_vote_and_deadline(api, demo):
    mid = seconded(api, demo, title="Which plan?")
    body = {"kind": "options", "options": ["Square", "Shed", "Garden"], "secret": False,
            "quorum": "1/3", "results": "live", "deadline": "2099-01-01T10:00:00+08:00"}  # fmt: skip
    response = api.post(f"/motions/{mid}/votes", "chair", body)
    error(response, 422, "invalid_deadline")  # more than 30 days away
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    response = api.post(f"/motions/{mid}/votes", "chair", {**body, "deadline": soon})
    assert response.status_code == 201, response.get_json()
    vote = response.get_json()
    assert vote["threshold"] == "plurality" and vote["options"] == ["Square", "Shed", "Garden"]
    assert vote["deadline"].endswith("Z")
    assert vote["counts"] == {"Square": 0, "Shed": 0, "Garden": 0, "abstain": 0}
    cast = api.post(f"/votes/{vote['id']}/ballots", "alice", {"choice": "Shed"})
    assert cast.status_code == 201
    error(api.post(f"/votes/{vote['id']}/ballots", "bob", {"choice": "yes"}), 422, "invalid_choice")


def test_ballots_and_close_of_an_open_vote(api, demo):
    vote = opened(api, demo, threshold="majority_cast", quorum="1/2")
    vid = vote["id"]
    first = api.post(f"/votes/{vid}/ballots", "alice", {"choice": "no", "reason": "Too loud"})
    assert first.status_code == 201
    assert first.get_json() == {
        "vote_id": vid,
        "choice": "no",
        "reason": "Too loud",
        "status": "recorded",
    }
    changed = api.post(f"/votes/{vid}/ballots", "alice", {"choice": "yes"})
    assert changed.status_code == 200 and changed.get_json()["status"] == "changed"
    same = api.post(f"/votes/{vid}/ballots", "alice", {"choice": "yes"})
    assert same.status_code == 200 and same.get_json()["status"] == "unchanged"
    api.post(f"/votes/{vid}/ballots", "bob", {"choice": "yes"})
    api.post(f"/votes/{vid}/ballots", "carol", {"choice": "no", "reason": "We need parking"})
    api.post(f"/votes/{vid}/ballots", "dave", {"choice": "abstain", "reason": "Undecided"})
    live = api.get(f"/votes/{vid}", "erin").get_json()
    assert live["counts"] == {"yes": 2, "no": 1, "abstain": 1} and live["ballots_cast"] == 4
    assert "result" not in live and "minority_opinions" not in live
    error(api.post(f"/votes/{vid}/close", "alice"), 403, "not_chair")
    closed = api.post(f"/votes/{vid}/close", "chair")
    assert closed.status_code == 200
    result = closed.get_json()
    assert result["status"] == "closed" and result["result"] == "rejected"  # 2 of 4: not > half
    assert result["quorum_met"] is True
    assert result["counts"] == {"yes": 2, "no": 1, "abstain": 1}
    assert result["ballots_cast"] == 4 and result["eligible"] == 6
    assert [
        {k: o[k] for k in ("text", "choice", "source", "author")}
        for o in result["minority_opinions"]
    ] == [{"text": "Undecided", "choice": "abstain", "source": "ballot", "author": "dave"}]
    assert "receipts" not in result
    again = api.get(f"/votes/{vid}").get_json()  # public reading, no token
    assert (
        again["result"] == "rejected" and again["minority_opinions"] == result["minority_opinions"]
    )
    before = snapshot()
    error(api.post(f"/votes/{vid}/close", "chair"), 409, "vote_closed")
    error(api.post(f"/votes/{vid}/ballots", "erin", {"choice": "yes"}), 409, "vote_closed")
    assert snapshot() == before
    detail = api.get(f"/motions/{vote['motion_id']}").get_json()
    assert detail["state"] == "rejected" and detail["votes"][0]["result"] == "rejected"


def test_ballot_refusals_record_nothing(api, demo, make_user):
    vote = opened(api, demo)
    vid = vote["id"]
    make_user("frank", password="password-123", community=demo.community)
    frank = api.auth.token("frank", "password-123")
    before = snapshot()
    error(api.post(f"/votes/{vid}/ballots", None, {"choice": "yes"}), 401, "unauthorized")
    error(api.post("/votes/999/ballots", "alice", {"choice": "yes"}), 404, "vote_not_found")
    error(api.get("/votes/999"), 404, "vote_not_found")
    response = api.client.post(
        f"/api/v1/votes/{vid}/ballots", json={"choice": "yes"},
        headers={"Authorization": f"Bearer {frank}"},
    )  # fmt: skip
    error(response, 403, "not_eligible")
    error(api.post(f"/votes/{vid}/ballots", "alice", {"choice": "maybe"}), 422, "invalid_choice")
    error(api.post(f"/votes/{vid}/ballots", "alice", {"choice": 1}), 422, "invalid_choice")
    error(api.post(f"/votes/{vid}/ballots", "alice", {}), 422, "invalid_choice")
    long_reason = {"choice": "no", "reason": "长" * 2001}
    error(api.post(f"/votes/{vid}/ballots", "alice", long_reason), 422, "reason_too_long")
    error(
        api.post(f"/votes/{vid}/ballots", "alice", {"choice": "no", "reason": 5}),
        422,
        "invalid_type",
    )
    error(api.post(f"/votes/{vid}/close", "bob"), 403, "not_chair")
    response = api.client.post(f"/api/v1/votes/{vid}/ballots", data="choice=yes",
                               headers=api.headers("alice"))  # fmt: skip
    error(response, 400, "bad_json")
    assert snapshot() == before
    assert (
        api.post(
            f"/votes/{vid}/ballots", "alice", {"choice": "no", "reason": "长" * 2000}
        ).status_code
        == 201
    )


def test_secret_vote_receipts(api, demo):
    vote = opened(api, demo, secret=True, results="hidden", quorum="1/2")
    vid = vote["id"]
    receipts = {}
    for name, choice, reason in (
        ("alice", "yes", None), ("bob", "yes", "Good for all"), ("carol", "no", "Noise"),
        ("dave", "abstain", "Not sure"),
    ):  # fmt: skip
        response = api.post(f"/votes/{vid}/ballots", name, {"choice": choice, "reason": reason})
        assert response.status_code == 201
        answer = response.get_json()
        assert set(answer) == {"vote_id", "choice", "reason", "status", "receipt"}
        receipts[name] = answer["receipt"]
    before = snapshot()
    body = error(api.post(f"/votes/{vid}/ballots", "alice", {"choice": "no"}), 409, "already_voted")
    assert "receipt" not in body
    assert snapshot() == before
    during = api.get(f"/votes/{vid}", "alice").get_json()
    assert "counts" not in during and during["ballots_cast"] == 4 and "receipts" not in during
    assert during["me"]["voted"] is True and during["me"]["choice"] is None
    result = api.post(f"/votes/{vid}/close", "chair").get_json()
    assert result["counts"] == {"yes": 2, "no": 1, "abstain": 1}
    assert result["result"] == "adopted"
    published = {r["receipt"]: r["choice"] for r in result["receipts"]}
    assert published == {
        receipts["alice"]: "yes", receipts["bob"]: "yes", receipts["carol"]: "no",
        receipts["dave"]: "abstain",
    }  # fmt: skip
    opinions = [
        {k: o[k] for k in ("text", "choice", "source", "author")}
        for o in result["minority_opinions"]
    ]
    assert opinions == [
        {"text": "Noise", "choice": "no", "source": "ballot", "author": None},
        {"text": "Not sure", "choice": "abstain", "source": "ballot", "author": None},
    ]
    text = str(api.get(f"/votes/{vid}").get_json())
    for name in ("alice", "bob", "carol", "dave"):
        assert name not in text


def test_room_closed_refuses_new_votes_and_ballots(api, demo):
    mid = seconded(api, demo)
    other = opened(api, demo)
    api.post(f"/consultations/{demo.id}/transition", "chair", {"to": "closed"})
    error(api.post(f"/motions/{mid}/votes", "chair", {}), 409, "room_closed")
    closed = api.get(f"/votes/{other['id']}").get_json()
    assert closed["status"] == "closed" and closed["closed_because"] == "room_closed"
    error(api.post(f"/votes/{other['id']}/ballots", "alice", {"choice": "yes"}), 409, "vote_closed")
    error(
        api.post(f"/consultations/{demo.id}/motions", "alice", {"title": "x"}), 409, "room_closed"
    )


def test_deadline_is_checked_on_read(api, demo):
    from datetime import timedelta

    from consult.core.time import utcnow

    vote = opened(api, demo)
    api.post(f"/votes/{vote['id']}/ballots", "alice", {"choice": "yes"})
    row = db.session.get(Vote, vote["id"])
    row.deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    read = api.get(f"/votes/{vote['id']}").get_json()
    assert read["status"] == "closed" and read["closed_because"] == "deadline"
    assert read["result"] == "adopted"


def test_list_votes_of_a_consultation(api, demo):
    first = opened(api, demo)
    votes = api.get(f"/consultations/{demo.id}/votes").get_json()["votes"]
    assert [v["id"] for v in votes] == [first["id"]]
