"""Topic collection through the API: propose, list, support, accept, decline, categories."""

import pytest

from consult.extensions import db
from consult.topics.models import Category, Topic, TopicSupport
from tests.api_helpers import cached_headers, count, error


@pytest.fixture
def h(demo, auth):
    return cached_headers(auth)


def propose(client, h, user="alice", **body):
    body.setdefault("title", "Repair the north gate lamp")
    body.setdefault("description", "It has been dark for a month.")
    return client.post("/api/v1/communities/demo/topics", json=body, headers=h(user))


def add_category(client, h, name, user="chair"):
    response = client.post(
        "/api/v1/communities/demo/categories", json={"name": name}, headers=h(user)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- proposing --------------------------------------------------------------------------------


def test_member_proposes_a_topic(client, h):
    response = propose(client, h)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["title"] == "Repair the north gate lamp"
    assert body["status"] == "open"
    assert body["supports"] == 0
    assert body["proposer"]["username"] == "alice"
    assert body["consultation"] is None
    topic = db.session.get(Topic, body["id"])
    assert topic.description == "It has been dark for a month."


@pytest.mark.parametrize(
    ("title", "code"),
    [("", "title_required"), ("   ", "title_required"), ("x" * 121, "title_too_long")],
)
def test_bad_titles_are_refused_and_nothing_is_stored(client, h, title, code):
    response = propose(client, h, title=title)
    assert response.status_code == 422
    assert error(response) == code
    assert response.get_json()["error"]["message"]
    assert count(Topic) == 0


def test_missing_title_and_wrong_types(client, h):
    response = client.post(
        "/api/v1/communities/demo/topics", json={"description": "x"}, headers=h("alice")
    )
    assert (response.status_code, error(response)) == (422, "title_required")
    response = propose(client, h, title={"x": 1})
    assert (response.status_code, error(response)) == (422, "invalid_type")
    response = propose(client, h, description="d" * 5001)
    assert (response.status_code, error(response)) == (422, "description_too_long")
    response = propose(client, h, category=["a"])
    assert (response.status_code, error(response)) == (422, "invalid_type")
    response = client.post("/api/v1/communities/demo/topics", data="title=x", headers=h("alice"))
    assert (response.status_code, error(response)) == (400, "bad_json")
    assert count(Topic) == 0


def test_title_of_exactly_120_characters_is_taken(client, h):
    response = propose(client, h, title="题" * 120)
    assert response.status_code == 201
    assert len(response.get_json()["title"]) == 120


def test_categories_unknown_retired_and_required(client, h):
    environment = add_category(client, h, "Environment 环境")
    add_category(client, h, "Safety 安全")
    # The community now has categories: a topic needs one.
    response = propose(client, h)
    assert (response.status_code, error(response)) == (422, "category_required")
    response = propose(client, h, category="Parking")
    assert (response.status_code, error(response)) == (422, "unknown_category")
    response = propose(client, h, category=987654)
    assert (response.status_code, error(response)) == (422, "unknown_category")
    assert count(Topic) == 0
    # By id or by name (case-insensitive).
    response = propose(client, h, category=environment["id"])
    assert response.status_code == 201
    assert response.get_json()["category"]["name"] == "Environment 环境"
    response = propose(client, h, category="safety 安全", title="Speed bumps")
    assert response.status_code == 201
    assert response.get_json()["category"]["name"] == "Safety 安全"
    # A retired category is offered no more.
    response = client.patch(
        f"/api/v1/communities/demo/categories/{environment['id']}",
        json={"retired": True},
        headers=h("chair"),
    )
    assert response.status_code == 200 and response.get_json()["retired"] is True
    response = propose(client, h, category=environment["id"], title="Trees")
    assert (response.status_code, error(response)) == (422, "unknown_category")
    assert count(Topic) == 2


def test_non_member_cannot_post_to_another_community(client, h, make_user, auth):
    from consult.communities.models import Community

    other = Community(slug="riverside", name="Riverside")
    db.session.add(other)
    db.session.commit()
    make_user("outsider", community=other)
    headers = auth.headers("outsider", "password-123")
    response = client.post(
        "/api/v1/communities/demo/topics", json={"title": "Let me in"}, headers=headers
    )
    assert (response.status_code, error(response)) == (403, "not_member")
    response = client.get("/api/v1/communities/demo/topics", headers=headers)
    assert (response.status_code, error(response)) == (403, "not_member")
    # And a demo resident cannot post to Riverside either.
    response = client.post(
        "/api/v1/communities/riverside/topics", json={"title": "Hello"}, headers=h("alice")
    )
    assert (response.status_code, error(response)) == (403, "not_member")
    response = client.post(
        "/api/v1/communities/nowhere/topics", json={"title": "Hello"}, headers=h("alice")
    )
    assert (response.status_code, error(response)) == (404, "community_not_found")
    response = client.post("/api/v1/communities/demo/topics", json={"title": "Anonymous"})
    assert (response.status_code, error(response)) == (401, "unauthorized")
    assert count(Topic) == 0


# --- supporting ---------------------------------------------------------------------------------


def test_support_once_each(client, h):
    topic_id = propose(client, h).get_json()["id"]
    response = client.post(f"/api/v1/topics/{topic_id}/support", headers=h("bob"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["supports"] == 1
    assert response.get_json()["supported_by_me"] is True
    response = client.post(f"/api/v1/topics/{topic_id}/support", headers=h("bob"))
    assert response.status_code == 409
    assert error(response) == "already_supported"
    assert count(TopicSupport) == 1
    response = client.post(f"/api/v1/topics/{topic_id}/support", headers=h("carol"))
    assert response.get_json()["supports"] == 2
    detail = client.get(f"/api/v1/topics/{topic_id}", headers=h("alice")).get_json()
    assert detail["supports"] == 2
    assert detail["supporters"] == ["bob", "carol"]
    assert detail["supported_by_me"] is False


def test_proposer_does_not_support_own_topic(client, h):
    topic_id = propose(client, h).get_json()["id"]
    response = client.post(f"/api/v1/topics/{topic_id}/support", headers=h("alice"))
    assert (response.status_code, error(response)) == (403, "own_topic")
    assert count(TopicSupport) == 0


def test_unknown_topic(client, h):
    for path in ("/api/v1/topics/999", "/api/v1/topics/999/support"):
        method = client.get if path.endswith("999") else client.post
        response = method(path, headers=h("alice"))
        assert (response.status_code, error(response)) == (404, "topic_not_found")


# --- listing ------------------------------------------------------------------------------------


def test_list_sorts_by_support_and_by_date_and_filters_by_status(client, h):
    first = propose(client, h, title="First").get_json()["id"]
    second = propose(client, h, title="Second").get_json()["id"]
    third = propose(client, h, title="Third").get_json()["id"]
    for user in ("bob", "carol"):
        client.post(f"/api/v1/topics/{first}/support", headers=h(user))
    client.post(f"/api/v1/topics/{third}/support", headers=h("bob"))

    def titles(query):
        response = client.get(f"/api/v1/communities/demo/topics{query}", headers=h("dave"))
        assert response.status_code == 200, response.get_json()
        return [t["title"] for t in response.get_json()["topics"]]

    assert titles("?sort=support") == ["First", "Third", "Second"]
    assert titles("") == ["First", "Third", "Second"]
    assert titles("?sort=new") == ["Third", "Second", "First"]
    listed = client.get("/api/v1/communities/demo/topics", headers=h("bob")).get_json()
    assert [(t["title"], t["supports"], t["supported_by_me"]) for t in listed["topics"]] == [
        ("First", 2, True),
        ("Third", 1, True),
        ("Second", 0, False),
    ]
    response = client.post(
        f"/api/v1/topics/{second}/decline", json={"reason": "Already planned."}, headers=h("chair")
    )
    assert response.status_code == 200
    assert titles("?status=open") == ["First", "Third"]
    assert titles("?status=declined") == ["Second"]
    assert titles("?status=all&sort=new&limit=1") == ["Third"]
    assert titles("?sort=new&limit=1&offset=1") == ["Second"]
    listed = client.get("/api/v1/topics?sort=new", headers=h("dave")).get_json()["topics"]
    assert [t["title"] for t in listed] == ["Third", "Second", "First"]
    for query, code in (
        ("?sort=loud", "invalid_sort"),
        ("?status=maybe", "invalid_status"),
        ("?limit=0", "invalid_limit"),
        ("?offset=x", "invalid_offset"),
    ):
        response = client.get(f"/api/v1/communities/demo/topics{query}", headers=h("dave"))
        assert (response.status_code, error(response)) == (422, code)


# --- accepting and declining --------------------------------------------------------------------


def test_accept_makes_a_draft_consultation_linked_both_ways(client, h):
    topic_id = propose(client, h).get_json()["id"]
    response = client.post(f"/api/v1/topics/{topic_id}/accept", headers=h("chair"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    consultation = body["consultation"]
    assert consultation["status"] == "draft"
    assert consultation["title"] == "Repair the north gate lamp"
    assert consultation["description"] == "It has been dark for a month."
    assert [p["username"] for p in consultation["participants"]] == ["chair"]
    assert body["topic"]["status"] == "accepted"
    assert body["topic"]["consultation"] == {
        "id": consultation["id"],
        "title": consultation["title"],
        "status": "draft",
    }
    topic = db.session.get(Topic, topic_id)
    assert topic.consultation_id == consultation["id"]
    assert topic.decided_by.username == "chair"
    # Decided: no second decision, no more support.
    response = client.post(f"/api/v1/topics/{topic_id}/accept", headers=h("chair"))
    assert (response.status_code, error(response)) == (409, "topic_not_open")
    response = client.post(
        f"/api/v1/topics/{topic_id}/decline", json={"reason": "x"}, headers=h("chair")
    )
    assert (response.status_code, error(response)) == (409, "topic_not_open")
    response = client.post(f"/api/v1/topics/{topic_id}/support", headers=h("bob"))
    assert (response.status_code, error(response)) == (409, "topic_not_open")


def test_accept_with_another_title(client, h):
    topic_id = propose(client, h).get_json()["id"]
    response = client.post(
        f"/api/v1/topics/{topic_id}/accept", json={"title": "North gate lighting"},
        headers=h("chair"),
    )  # fmt: skip
    assert response.get_json()["consultation"]["title"] == "North gate lighting"


def test_only_a_chair_decides(client, h):
    from consult.consultations.models import Consultation

    before = count(Consultation)
    topic_id = propose(client, h).get_json()["id"]
    response = client.post(f"/api/v1/topics/{topic_id}/accept", headers=h("bob"))
    assert (response.status_code, error(response)) == (403, "not_chair")
    response = client.post(
        f"/api/v1/topics/{topic_id}/decline", json={"reason": "No."}, headers=h("bob")
    )
    assert (response.status_code, error(response)) == (403, "not_chair")
    assert count(Consultation) == before
    assert db.session.get(Topic, topic_id).status == "open"


def test_decline_needs_a_reason_the_proposer_sees(client, h):
    topic_id = propose(client, h).get_json()["id"]
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = client.post(f"/api/v1/topics/{topic_id}/decline", json=body, headers=h("chair"))
        assert response.status_code == 422
        assert error(response) == "reason_required"
    response = client.post(
        f"/api/v1/topics/{topic_id}/decline", json={"reason": "r" * 2001}, headers=h("chair")
    )
    assert (response.status_code, error(response)) == (422, "reason_too_long")
    db.session.expire_all()
    assert db.session.get(Topic, topic_id).status == "open"
    response = client.post(
        f"/api/v1/topics/{topic_id}/decline",
        json={"reason": "The property company repairs it next week."},
        headers=h("chair"),
    )
    assert response.status_code == 200
    detail = client.get(f"/api/v1/topics/{topic_id}", headers=h("alice")).get_json()
    assert detail["status"] == "declined"
    assert detail["decline_reason"] == "The property company repairs it next week."
    assert detail["decided_by"] == "chair"


# --- categories ---------------------------------------------------------------------------------


def test_category_admin_api(client, h):
    made = add_category(client, h, "Parking")
    response = client.post(
        "/api/v1/communities/demo/categories", json={"name": "parking"}, headers=h("chair")
    )
    assert (response.status_code, error(response)) == (409, "category_exists")
    response = client.post(
        "/api/v1/communities/demo/categories", json={"name": ""}, headers=h("chair")
    )
    assert (response.status_code, error(response)) == (422, "name_required")
    response = client.post(
        "/api/v1/communities/demo/categories", json={"name": "n" * 61}, headers=h("chair")
    )
    assert (response.status_code, error(response)) == (422, "name_too_long")
    response = client.post(
        "/api/v1/communities/demo/categories", json={"name": "Mine"}, headers=h("alice")
    )
    assert (response.status_code, error(response)) == (403, "not_community_admin")
    assert count(Category) == 1

    response = client.patch(
        f"/api/v1/communities/demo/categories/{made['id']}",
        json={"name": "Parking 停车"},
        headers=h("chair"),
    )
    assert response.get_json() == {"id": made["id"], "name": "Parking 停车", "retired": False}
    response = client.patch(
        f"/api/v1/communities/demo/categories/{made['id']}",
        json={"retired": "yes"},
        headers=h("chair"),
    )
    assert (response.status_code, error(response)) == (422, "invalid_type")
    response = client.patch(
        f"/api/v1/communities/demo/categories/{made['id']}", json={"retired": True},
        headers=h("alice"),
    )  # fmt: skip
    assert (response.status_code, error(response)) == (403, "not_community_admin")
    response = client.patch(
        "/api/v1/communities/demo/categories/4242", json={"retired": True}, headers=h("chair")
    )
    assert (response.status_code, error(response)) == (404, "category_not_found")
    client.patch(
        f"/api/v1/communities/demo/categories/{made['id']}", json={"retired": True},
        headers=h("chair"),
    )  # fmt: skip
    listed = client.get("/api/v1/communities/demo/categories", headers=h("alice")).get_json()
    assert listed == {"categories": []}
    listed = client.get(
        "/api/v1/communities/demo/categories?include_retired=1", headers=h("alice")
    ).get_json()
    assert listed["categories"] == [{"id": made["id"], "name": "Parking 停车", "retired": True}]
