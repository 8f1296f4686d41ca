"""The JSON API of the foundation: tokens, communities, members, consultations, participants
and transitions — each call with its answers and its errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consult.accounts.models import ApiToken, User
from consult.communities.models import Community, Membership
from consult.consultations.models import Consultation, Participant
from consult.extensions import db
from tests.api_helpers import cached_headers


def count(model, *where) -> int:
    query = sa.select(sa.func.count()).select_from(model)
    if where:
        query = query.where(*where)
    return db.session.scalar(query)


def error(response, status: int, code: str) -> dict:
    """Assert a JSON error body ``{"error": {"code", "message"}}`` with this status and code."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip()
    return body["error"]


@pytest.fixture
def api(demo, client, auth):
    """Bearer headers per demo user, fetched once each."""
    return cached_headers(auth)


def new_consultation(client, api, **fields):
    payload = {"community": "demo", "title": "Bicycle shed", **fields}
    response = client.post("/api/v1/consultations", json=payload, headers=api("chair"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def move(client, api, cid, to, **extra):
    response = client.post(
        f"/api/v1/consultations/{cid}/transition", json={"to": to, **extra}, headers=api("chair")
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- authentication, for every call ---------------------------------------------------------

PROTECTED = [
    ("delete", "/api/v1/token", None),
    ("get", "/api/v1/me", None),
    ("post", "/api/v1/communities", {"slug": "new", "name": "New"}),
    ("get", "/api/v1/communities/demo/members", None),
    ("post", "/api/v1/communities/demo/members", {"username": "x", "password": "password-1"}),
    ("post", "/api/v1/communities/demo/members/alice/role", {"role": "chair"}),
    ("post", "/api/v1/consultations", {"community": "demo", "title": "T"}),
    ("patch", "/api/v1/consultations/{cid}", {"title": "T"}),
    ("post", "/api/v1/consultations/{cid}/participants", {"username": "bob", "role": "voter"}),
    ("delete", "/api/v1/consultations/{cid}/participants/bob", None),
    ("post", "/api/v1/consultations/{cid}/transition", {"to": "closed"}),
]
PUBLIC = [
    ("get", "/api/v1/communities", None),
    ("get", "/api/v1/communities/demo/consultations", None),
    ("get", "/api/v1/consultations/{cid}", None),
]


def call(client, method, url, body, demo, headers=None):
    url = url.format(cid=demo.id)
    kwargs = {"headers": headers or {}}
    if body is not None:
        kwargs["json"] = body
    return getattr(client, method)(url, **kwargs)


def db_state():
    return (
        count(User),
        count(Community),
        count(Membership),
        count(Consultation),
        count(Participant),
        db.session.scalar(sa.select(sa.func.group_concat(Membership.role))),
        db.session.scalar(sa.select(sa.func.group_concat(Consultation.status))),
        db.session.scalar(sa.select(sa.func.group_concat(Consultation.title))),
    )


@pytest.mark.parametrize(("method", "url", "body"), PROTECTED)
def test_every_protected_call_needs_a_token(demo, client, method, url, body):
    before = db_state()
    error(call(client, method, url, body, demo), 401, "unauthorized")
    assert db_state() == before


BAD_HEADERS = [
    "Bearer not-a-token",
    "Bearer ",
    "bearer",
    "Basic Y2hhaXI6eWl0aW5nLWRlbW8=",
    "Bearer " + "x" * 300,
]


@pytest.mark.parametrize(("method", "url", "body"), PROTECTED + PUBLIC)
def test_a_bad_token_is_refused_everywhere(demo, client, method, url, body):
    before = db_state()
    for header in BAD_HEADERS:
        response = call(client, method, url, body, demo, {"Authorization": header})
        error(response, 401, "invalid_token")
    assert db_state() == before


@pytest.mark.parametrize(("method", "url", "body"), PROTECTED + PUBLIC)
def test_a_revoked_token_is_refused_everywhere(demo, client, auth, method, url, body):
    headers = auth.headers("chair")
    assert client.delete("/api/v1/token", headers=headers).status_code == 204
    before = db_state()
    error(call(client, method, url, body, demo, headers), 401, "invalid_token")
    assert db_state() == before


# --- tokens and /me --------------------------------------------------------------------------


def test_token_answers_token_and_user(demo, client):
    response = client.post(
        "/api/v1/token", json={"username": "alice", "password": "yiting-demo", "label": "kiosk"}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "user"}
    assert body["user"]["username"] == "alice"
    assert body["user"]["display_name"] == "王爱丽 Alice"
    assert "password_hash" not in body["user"]
    assert db.session.scalar(sa.select(ApiToken.label)) == "kiosk"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.get_json()["user"]["username"] == "alice"


def test_token_with_wrong_password(demo, client):
    error(
        client.post("/api/v1/token", json={"username": "alice", "password": "wrong-one"}),
        401,
        "invalid_credentials",
    )
    assert count(ApiToken) == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "alice"}, 422, "invalid_field"),
        ({"password": "yiting-demo"}, 422, "invalid_field"),
        ({}, 422, "invalid_field"),
        ({"username": ["alice"], "password": "yiting-demo"}, 422, "invalid_type"),
        ({"username": "alice", "password": 12345678}, 422, "invalid_type"),
        ({"username": "alice", "password": {"$ne": ""}}, 422, "invalid_type"),
        ({"username": "alice", "password": "p" * 129}, 422, "invalid_field"),
        ([], 400, "bad_payload"),
        ("alice", 400, "bad_payload"),
    ],
)
def test_token_with_bad_payloads(demo, client, body, status, code):
    error(client.post("/api/v1/token", json=body), status, code)
    assert count(ApiToken) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"username": "alice", "password": ', "application/json"),
        ("username=alice&password=yiting-demo", "application/x-www-form-urlencoded"),
        ("", "application/json"),
        ("\xff\xfe", "application/json"),
    ],
)
def test_token_with_malformed_json(demo, client, data, content_type):
    error(client.post("/api/v1/token", data=data, content_type=content_type), 400, "bad_json")
    assert count(ApiToken) == 0


def test_revoke_the_token_in_use(demo, client, auth):
    headers = auth.headers("bob")
    other = auth.headers("bob")
    assert client.delete("/api/v1/token", headers=headers).status_code == 204
    error(client.get("/api/v1/me", headers=headers), 401, "invalid_token")
    # Only that token: bob's other token still works.
    assert client.get("/api/v1/me", headers=other).status_code == 200


def test_me_lists_communities_and_roles(api, client):
    body = client.get("/api/v1/me", headers=api("chair")).get_json()
    assert body["user"]["username"] == "chair"
    assert body["site_admin"] is False
    assert body["communities"] == [
        {
            "slug": "demo",
            "name": "示范社区 Demo Community",
            "timezone": "Asia/Shanghai",
            "role": "admin",
        }
    ]
    body = client.get("/api/v1/me", headers=api("alice")).get_json()
    assert body["communities"][0]["role"] == "resident"


def test_session_cookie_works_for_reading(demo, client, auth):
    auth.login("alice")
    assert client.get("/api/v1/me").get_json()["user"]["username"] == "alice"


# --- communities ----------------------------------------------------------------------------


@pytest.fixture
def site_admin_headers(app, client, make_user):
    from consult.accounts.service import issue_token

    user = make_user("operator")
    user.is_site_admin = True
    db.session.commit()
    return {"Authorization": f"Bearer {issue_token(user)}"}


def test_list_communities_is_public(demo, client):
    body = client.get("/api/v1/communities").get_json()
    assert body == {
        "communities": [
            {"slug": "demo", "name": "示范社区 Demo Community", "timezone": "Asia/Shanghai"}
        ]
    }


def test_site_admin_creates_a_community(demo, client, site_admin_headers):
    response = client.post(
        "/api/v1/communities",
        json={"slug": "maple", "name": "枫林社区", "timezone": "Asia/Urumqi"},
        headers=site_admin_headers,
    )
    assert response.status_code == 201
    assert response.get_json() == {"slug": "maple", "name": "枫林社区", "timezone": "Asia/Urumqi"}
    slugs = [c["slug"] for c in client.get("/api/v1/communities").get_json()["communities"]]
    assert "maple" in slugs
    error(
        client.post(
            "/api/v1/communities", json={"slug": "maple", "name": "x"}, headers=site_admin_headers
        ),
        409,
        "slug_taken",
    )


def test_community_admin_is_not_a_site_admin(api, client):
    error(
        client.post("/api/v1/communities", json={"slug": "x1", "name": "X"}, headers=api("chair")),
        403,
        "not_site_admin",
    )
    assert count(Community) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "No slug"}, "invalid_field"),
        ({"slug": "no-name"}, "invalid_field"),
        ({"slug": "Bad Slug", "name": "X"}, "invalid_slug"),
        ({"slug": "ok", "name": "X", "timezone": "Nowhere/City"}, "invalid_timezone"),
        ({"slug": "ok", "name": ["X"]}, "invalid_type"),
        ({"slug": "ok", "name": "n" * 101}, "invalid_field"),
    ],
)
def test_create_community_with_bad_payloads(demo, client, site_admin_headers, body, code):
    error(client.post("/api/v1/communities", json=body, headers=site_admin_headers), 422, code)
    assert count(Community) == 1


# --- members --------------------------------------------------------------------------------


def test_admin_lists_members(api, client):
    body = client.get("/api/v1/communities/demo/members", headers=api("chair")).get_json()
    roles = {m["username"]: m["role"] for m in body["members"]}
    assert roles == {
        "alice": "resident",
        "bob": "resident",
        "carol": "resident",
        "chair": "admin",
        "dave": "resident",
        "erin": "resident",
    }
    assert all(m["since"].endswith("Z") for m in body["members"])


def test_residents_cannot_list_members(api, client):
    error(client.get("/api/v1/communities/demo/members", headers=api("alice")), 403,
          "not_community_admin")  # fmt: skip


def test_members_of_unknown_community(api, client):
    error(client.get("/api/v1/communities/nowhere/members", headers=api("chair")), 404,
          "community_not_found")  # fmt: skip
    error(
        client.post(
            "/api/v1/communities/nowhere/members",
            json={"username": "gran", "display_name": "Gran", "password": "gran-password"},
            headers=api("chair"),
        ),
        404,
        "community_not_found",
    )


def test_admin_registers_a_resident(api, client):
    response = client.post(
        "/api/v1/communities/demo/members",
        json={"username": "granny.li", "display_name": "李奶奶", "password": "li-password-1"},
        headers=api("chair"),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["username"], body["display_name"], body["role"], body["community"]) == (
        "granny.li",
        "李奶奶",
        "resident",
        "demo",
    )
    # The resident can now get a token with the password the worker set.
    token = client.post(
        "/api/v1/token", json={"username": "granny.li", "password": "li-password-1"}
    )
    assert token.status_code == 201


def test_admin_registers_with_a_role_and_adds_existing_accounts(api, client, make_user):
    make_user("neighbour")
    response = client.post(
        "/api/v1/communities/demo/members",
        json={"username": "neighbour", "role": "chair"},
        headers=api("chair"),
    )
    assert response.status_code == 201
    assert response.get_json()["role"] == "chair"
    assert count(User, User.username == "neighbour") == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "alice"}, 409, "already_member"),
        ({"username": "alice", "display_name": "A", "password": "new-password"}, 409,
         "username_taken"),
        ({"username": "new.one", "display_name": "N"}, 422, "password_required"),
        ({"username": "new.one", "password": "short"}, 422, "invalid_password"),
        ({"username": "New One", "password": "password-123"}, 422, "invalid_username"),
        ({"username": "new.one", "password": "password-123", "role": "mayor"}, 422,
         "invalid_role"),
        ({"username": "new.one", "password": "password-123", "display_name": "d" * 65}, 422,
         "invalid_field"),
        ({"username": 42, "password": "password-123"}, 422, "invalid_type"),
        ({"password": "password-123"}, 422, "invalid_field"),
        ({"username": "new.one", "password": ["password-123"]}, 422, "invalid_type"),
    ],
)  # fmt: skip
def test_register_resident_with_bad_payloads(api, client, body, status, code):
    before = db_state()
    error(client.post("/api/v1/communities/demo/members", json=body, headers=api("chair")),
          status, code)  # fmt: skip
    assert db_state() == before


def test_residents_cannot_register_residents(api, client):
    before = db_state()
    error(
        client.post(
            "/api/v1/communities/demo/members",
            json={"username": "sneaky", "password": "password-123"},
            headers=api("alice"),
        ),
        403,
        "not_community_admin",
    )
    assert db_state() == before


def test_members_bad_json(api, client):
    error(
        client.post(
            "/api/v1/communities/demo/members",
            data="{not json",
            content_type="application/json",
            headers=api("chair"),
        ),
        400,
        "bad_json",
    )


def test_admin_sets_a_role(api, client):
    response = client.post(
        "/api/v1/communities/demo/members/alice/role", json={"role": "chair"}, headers=api("chair")
    )
    assert response.status_code == 200
    assert response.get_json()["role"] == "chair"
    body = client.get("/api/v1/me", headers=api("alice")).get_json()
    assert body["communities"][0]["role"] == "chair"
    # As a chair alice may now create consultations.
    response = client.post(
        "/api/v1/consultations", json={"community": "demo", "title": "Mine"}, headers=api("alice")
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("who", "url", "body", "status", "code"),
    [
        ("alice", "/api/v1/communities/demo/members/bob/role", {"role": "admin"}, 403,
         "not_community_admin"),
        ("chair", "/api/v1/communities/demo/members/nobody/role", {"role": "chair"}, 404,
         "member_not_found"),
        ("chair", "/api/v1/communities/nowhere/members/bob/role", {"role": "chair"}, 404,
         "community_not_found"),
        ("chair", "/api/v1/communities/demo/members/bob/role", {"role": "king"}, 422,
         "invalid_role"),
        ("chair", "/api/v1/communities/demo/members/bob/role", {}, 422, "invalid_role"),
        ("chair", "/api/v1/communities/demo/members/bob/role", {"role": ["chair"]}, 422,
         "invalid_type"),
        ("chair", "/api/v1/communities/demo/members/chair/role", {"role": "resident"}, 409,
         "last_admin"),
    ],
)  # fmt: skip
def test_set_role_errors(api, client, who, url, body, status, code):
    before = db_state()
    error(client.post(url, json=body, headers=api(who)), status, code)
    assert db_state() == before


# --- consultations of a community ----------------------------------------------------------


def test_list_consultations_with_status(demo, api, client):
    draft = new_consultation(client, api, title="Draft plan")
    invited = new_consultation(client, api, title="Invited only", access="invited")
    move(client, api, invited["id"], "announced")

    def titles(headers=None):
        response = client.get("/api/v1/communities/demo/consultations", headers=headers or {})
        assert response.status_code == 200
        return {c["title"]: c["status"] for c in response.get_json()["consultations"]}

    live_title = demo.title
    assert titles(api("chair")) == {
        live_title: "live",
        "Draft plan": "draft",
        "Invited only": "announced",
    }
    # Residents and visitors: no drafts, no invited-only consultation they are not invited to.
    assert titles(api("alice")) == {live_title: "live"}
    assert titles() == {live_title: "live"}
    client.post(
        f"/api/v1/consultations/{invited['id']}/participants",
        json={"username": "alice", "role": "observer"},
        headers=api("chair"),
    )
    assert titles(api("alice")) == {live_title: "live", "Invited only": "announced"}
    assert draft["status"] == "draft"


def test_list_consultations_of_unknown_community(demo, client):
    error(client.get("/api/v1/communities/nowhere/consultations"), 404, "community_not_found")


# --- creating a consultation ----------------------------------------------------------------


def test_create_consultation(api, client):
    response = client.post(
        "/api/v1/consultations",
        json={
            "community": "demo",
            "title": "Lift repair",
            "description": "## Background\n\nThe lift is **old**.",
            "form": "hearing",
            "access": "invited",
            "place": "Hall",
            "scheduled_at": "2030-05-01T10:00",
            "agenda": ["Report", "Questions"],
            "seconds_required": 2,
            "default_threshold": "majority_cast",
        },
        headers=api("chair"),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "draft" and body["community"] == "demo"
    assert (body["form"], body["access"], body["place"]) == ("hearing", "invited", "Hall")
    # 10:00 in Asia/Shanghai is 02:00 UTC.
    assert body["scheduled_at"] == "2030-05-01T02:00:00Z"
    assert body["agenda"] == ["Report", "Questions"]
    assert body["participants"] == [
        {"username": "chair", "display_name": "张主任 Chair Zhang", "role": "chair"}
    ]
    stored = db.session.get(Consultation, body["id"])
    assert stored.title == "Lift repair" and stored.seconds_required == 2


def test_create_with_defaults(api, client):
    body = new_consultation(client, api)
    assert (body["form"], body["access"], body["status"]) == ("council", "open", "draft")
    assert body["scheduled_at"] is None and body["agenda"] == []


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_residents_cannot_create_consultations(api, client, who):
    before = db_state()
    error(
        client.post("/api/v1/consultations", json={"community": "demo", "title": "Mine"},
                    headers=api(who)),
        403,
        "not_allowed_to_create",
    )  # fmt: skip
    assert db_state() == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"title": "No community"}, 422, "community_required"),
        ({"community": "nowhere", "title": "T"}, 404, "community_not_found"),
        ({"community": "demo"}, 422, "title_required"),
        ({"community": "demo", "title": ""}, 422, "title_required"),
        ({"community": "demo", "title": "   "}, 422, "title_required"),
        ({"community": "demo", "title": 7}, 422, "invalid_type"),
        ({"community": "demo", "title": ["T"]}, 422, "invalid_type"),
        ({"community": "demo", "title": {"text": "T"}}, 422, "invalid_type"),
        ({"community": "demo", "title": True}, 422, "invalid_type"),
        ({"community": 1, "title": "T"}, 422, "invalid_type"),
        ({"community": "demo", "title": "T", "form": "party"}, 422, "invalid_form"),
        ({"community": "demo", "title": "T", "access": "private"}, 422, "invalid_access"),
        ({"community": "demo", "title": "T", "scheduled_at": "soon"}, 422,
         "invalid_scheduled_at"),
        ({"community": "demo", "title": "T", "scheduled_at": 1700000000}, 422, "invalid_type"),
        ({"community": "demo", "title": "T", "agenda": "one"}, 422, "invalid_type"),
        ({"community": "demo", "title": "T", "agenda": [1, 2]}, 422, "invalid_type"),
        ({"community": "demo", "title": "T", "agenda": ["x"] * 31}, 422, "invalid_agenda"),
        ({"community": "demo", "title": "T", "agenda": ["a" * 201]}, 422, "invalid_field"),
        ({"community": "demo", "title": "T", "seconds_required": "many"}, 422, "invalid_field"),
        ({"community": "demo", "title": "T", "seconds_required": 99}, 422,
         "invalid_seconds_required"),
        ({"community": "demo", "title": "T", "seconds_required": 1.5}, 422, "invalid_type"),
        ({"community": "demo", "title": "T", "default_threshold": "all"}, 422,
         "invalid_threshold"),
    ],
)  # fmt: skip
def test_create_consultation_with_bad_payloads(api, client, body, status, code):
    before = db_state()
    error(client.post("/api/v1/consultations", json=body, headers=api("chair")), status, code)
    assert db_state() == before


def test_create_consultation_bad_json(api, client):
    for data in ("{", "[1, 2]", "null", '"title"'):
        response = client.post(
            "/api/v1/consultations", data=data, content_type="application/json",
            headers=api("chair"),
        )  # fmt: skip
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] in {"bad_json", "bad_payload"}
    error(
        client.post("/api/v1/consultations", data="{", content_type="application/json",
                    headers=api("chair")),
        400,
        "bad_json",
    )  # fmt: skip
    assert count(Consultation) == 1


# --- reading one consultation ---------------------------------------------------------------


def test_get_consultation_with_participants(demo, client, api):
    body = client.get(f"/api/v1/consultations/{demo.id}", headers=api("alice")).get_json()
    assert body["id"] == demo.id and body["status"] == "live"
    assert {p["username"]: p["role"] for p in body["participants"]}["alice"] == "voter"
    # A visitor may read an open consultation that has been announced.
    assert client.get(f"/api/v1/consultations/{demo.id}").status_code == 200


@pytest.mark.parametrize("cid", ["999", "0", "99999999999999999999999"])
def test_unknown_consultation(demo, client, api, cid):
    error(client.get(f"/api/v1/consultations/{cid}", headers=api("chair")), 404,
          "consultation_not_found")  # fmt: skip
    error(
        client.post(f"/api/v1/consultations/{cid}/transition", json={"to": "live"},
                    headers=api("chair")),
        404,
        "consultation_not_found",
    )  # fmt: skip


def test_non_numeric_id_is_not_found(demo, client, api):
    error(client.get("/api/v1/consultations/abc", headers=api("chair")), 404, "not_found")


def test_drafts_are_invisible_to_residents_and_visitors(api, client):
    draft = new_consultation(client, api)
    url = f"/api/v1/consultations/{draft['id']}"
    assert client.get(url, headers=api("chair")).status_code == 200
    error(client.get(url, headers=api("alice")), 404, "consultation_not_found")
    error(client.get(url), 404, "consultation_not_found")
    # Writing to it does not reveal it either.
    error(client.patch(url, json={"title": "x"}, headers=api("alice")), 404,
          "consultation_not_found")  # fmt: skip


def test_invited_only_consultation(api, client):
    invited = new_consultation(client, api, access="invited")
    move(client, api, invited["id"], "announced")
    url = f"/api/v1/consultations/{invited['id']}"
    error(client.get(url, headers=api("alice")), 403, "not_invited")
    error(client.get(url), 404, "consultation_not_found")
    client.post(
        url + "/participants", json={"username": "alice", "role": "voter"}, headers=api("chair")
    )
    assert client.get(url, headers=api("alice")).status_code == 200
    error(client.get(url, headers=api("bob")), 403, "not_invited")


# --- editing --------------------------------------------------------------------------------


def test_patch_changes_the_given_fields(api, client):
    created = new_consultation(client, api, description="Old text", agenda=["One"])
    response = client.patch(
        f"/api/v1/consultations/{created['id']}",
        json={"title": "New title", "access": "invited", "scheduled_at": None},
        headers=api("chair"),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["access"], body["description"]) == (
        "New title",
        "invited",
        "Old text",
    )
    assert body["agenda"] == ["One"]
    assert db.session.get(Consultation, created["id"]).title == "New title"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": ""}, "title_required"),
        ({"title": "t" * 201}, "invalid_field"),
        ({"title": {"a": 1}}, "invalid_type"),
        ({"access": "everyone"}, "invalid_access"),
        ({"description": 5}, "invalid_type"),
    ],
)
def test_patch_with_bad_payloads(api, client, body, code):
    created = new_consultation(client, api)
    before = db_state()
    error(client.patch(f"/api/v1/consultations/{created['id']}", json=body,
                       headers=api("chair")), 422, code)  # fmt: skip
    assert db_state() == before


def test_patch_refusals(demo, api, client):
    created = new_consultation(client, api)
    move(client, api, created["id"], "announced")
    url = f"/api/v1/consultations/{created['id']}"
    error(client.patch(url, json={"title": "x"}, headers=api("alice")), 403, "not_chair")
    error(client.patch(f"/api/v1/consultations/{demo.id}", json={"title": "x"},
                       headers=api("chair")), 409, "not_editable")  # fmt: skip
    error(client.patch("/api/v1/consultations/999", json={"title": "x"}, headers=api("chair")),
          404, "consultation_not_found")  # fmt: skip
    error(client.patch(url, data="{", content_type="application/json", headers=api("chair")),
          400, "bad_json")  # fmt: skip
    assert db.session.get(Consultation, created["id"]).title == "Bicycle shed"


# --- participants ---------------------------------------------------------------------------


def test_invite_and_change_role(api, client):
    created = new_consultation(client, api)
    url = f"/api/v1/consultations/{created['id']}/participants"
    response = client.post(url, json={"username": "alice", "role": "voter"}, headers=api("chair"))
    assert response.status_code == 200
    assert response.get_json() == {
        "username": "alice",
        "display_name": "王爱丽 Alice",
        "role": "voter",
    }
    response = client.post(url, json={"username": "alice", "role": "speaker"},
                           headers=api("chair"))  # fmt: skip
    assert response.get_json()["role"] == "speaker"
    detail = client.get(f"/api/v1/consultations/{created['id']}", headers=api("chair"))
    assert {p["username"]: p["role"] for p in detail.get_json()["participants"]} == {
        "chair": "chair",
        "alice": "speaker",
    }


@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        ("alice", {"username": "bob", "role": "voter"}, 403, "not_chair"),
        ("chair", {"username": "nobody", "role": "voter"}, 404, "user_not_found"),
        ("chair", {"username": "bob", "role": "boss"}, 422, "invalid_role"),
        ("chair", {"username": "bob"}, 422, "invalid_field"),
        ("chair", {"role": "voter"}, 422, "invalid_field"),
        ("chair", {"username": ["bob"], "role": "voter"}, 422, "invalid_type"),
        ("chair", {"username": "chair", "role": "voter"}, 409, "last_chair"),
    ],
)
def test_participant_errors(demo, api, client, who, body, status, code):
    before = db_state()
    error(client.post(f"/api/v1/consultations/{demo.id}/participants", json=body,
                      headers=api(who)), status, code)  # fmt: skip
    assert db_state() == before


def test_invite_a_non_member(demo, api, client, make_user):
    make_user("stranger")
    error(
        client.post(f"/api/v1/consultations/{demo.id}/participants",
                    json={"username": "stranger", "role": "voter"}, headers=api("chair")),
        422,
        "not_member",
    )  # fmt: skip


def test_remove_participant(demo, api, client):
    url = f"/api/v1/consultations/{demo.id}/participants/bob"
    error(client.delete(url, headers=api("alice")), 403, "not_chair")
    response = client.delete(url, headers=api("chair"))
    assert response.status_code == 204
    assert response.get_data() == b""
    detail = client.get(f"/api/v1/consultations/{demo.id}", headers=api("chair")).get_json()
    assert "bob" not in {p["username"] for p in detail["participants"]}
    error(client.delete(url, headers=api("chair")), 404, "participant_not_found")
    error(client.delete(f"/api/v1/consultations/{demo.id}/participants/chair",
                        headers=api("chair")), 409, "last_chair")  # fmt: skip
    error(client.delete("/api/v1/consultations/999/participants/bob", headers=api("chair")),
          404, "consultation_not_found")  # fmt: skip


# --- transitions ----------------------------------------------------------------------------


def test_transitions_through_the_lifecycle(api, client):
    created = new_consultation(client, api)
    assert move(client, api, created["id"], "announced")["status"] == "announced"
    assert move(client, api, created["id"], "live")["status"] == "live"
    assert move(client, api, created["id"], "closed")["status"] == "closed"
    assert db.session.get(Consultation, created["id"]).status == "closed"


def test_cancel_with_a_reason(api, client):
    created = new_consultation(client, api)
    body = move(client, api, created["id"], "cancelled", reason="Postponed to spring.")
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "Postponed to spring.")


@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        ("chair", {"to": "closed"}, 409, "illegal_transition"),
        ("chair", {"to": "draft"}, 409, "illegal_transition"),
        ("chair", {"to": "completed"}, 409, "illegal_transition"),
        ("chair", {"to": "cancelled"}, 422, "reason_required"),
        ("chair", {"to": "cancelled", "reason": " "}, 422, "reason_required"),
        ("chair", {}, 422, "invalid_field"),
        ("chair", {"to": 3}, 422, "invalid_type"),
        ("chair", {"to": "live", "reason": "r" * 2001}, 422, "invalid_field"),
        ("alice", {"to": "announced"}, 404, "consultation_not_found"),
    ],
)
def test_transition_errors_on_a_draft(api, client, who, body, status, code):
    created = new_consultation(client, api)
    before = db_state()
    found = error(client.post(f"/api/v1/consultations/{created['id']}/transition", json=body,
                              headers=api(who)), status, code)  # fmt: skip
    if code == "illegal_transition":
        assert found["allowed"] == ["announced", "cancelled"]
    assert db_state() == before


def test_residents_cannot_move_an_announced_consultation(demo, api, client):
    error(client.post(f"/api/v1/consultations/{demo.id}/transition", json={"to": "closed"},
                      headers=api("alice")), 403, "not_chair")  # fmt: skip
    assert db.session.get(Consultation, demo.id).status == "live"


# --- the error format everywhere -------------------------------------------------------------


def test_unknown_api_paths_and_methods_answer_json(demo, client, api):
    error(client.get("/api/v1/nothing-here", headers=api("chair")), 404, "not_found")
    error(client.put("/api/v1/consultations/1", json={}, headers=api("chair")), 405,
          "method_not_allowed")  # fmt: skip


def test_oversize_body_is_refused(demo, client, api):
    big = {"community": "demo", "title": "T", "description": "x" * (3 * 1024 * 1024)}
    error(client.post("/api/v1/consultations", json=big, headers=api("chair")), 413,
          "payload_too_large")  # fmt: skip
    assert count(Consultation) == 1
