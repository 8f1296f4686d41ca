"""Communities: who may do what (site admin, community admin, chair, resident), members and
their roles, and the CSV import of residents."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from consult.accounts.models import User
from consult.accounts.service import authenticate, create_user
from consult.audit import AuditEntry
from consult.communities import service
from consult.communities.models import Community, Membership
from consult.consultations import service as consultations
from consult.errors import Conflict, Forbidden, Invalid, NotFound
from consult.extensions import db


def count(model, *where) -> int:
    query = sa.select(sa.func.count()).select_from(model)
    if where:
        query = query.where(*where)
    return db.session.scalar(query)


@pytest.fixture
def site_admin(app):
    user = create_user("operator", "Operator", "operator-password", site_admin=True)
    db.session.commit()
    return user


@pytest.fixture
def people(app, site_admin, make_user):
    """A community with an admin, a chair and a resident, and an outsider."""
    community = service.create_community(site_admin, "maple", "枫林社区 Maple", "Asia/Shanghai")
    return {
        "community": community,
        "site_admin": site_admin,
        "admin": make_user("admin", community=community, role="admin"),
        "chair": make_user("chairman", community=community, role="chair"),
        "resident": make_user("resident", community=community, role="resident"),
        "outsider": make_user("outsider"),
    }


# --- communities ---------------------------------------------------------------------------


def test_site_admin_creates_a_community(site_admin):
    community = service.create_community(site_admin, "river-side", "河畔社区", "Asia/Urumqi")
    stored = db.session.scalar(sa.select(Community).where(Community.slug == "river-side"))
    assert stored.id == community.id
    assert (stored.name, stored.timezone) == ("河畔社区", "Asia/Urumqi")
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "community.created"))
    assert entry.actor_id == site_admin.id and entry.target_id == community.id


@pytest.mark.parametrize("role", ["admin", "chair", "resident", "outsider"])
def test_only_a_site_admin_creates_communities(people, role):
    with pytest.raises(Forbidden) as caught:
        service.create_community(people[role], "other", "Other")
    assert caught.value.code == "not_site_admin"
    db.session.rollback()
    assert count(Community) == 1


@pytest.mark.parametrize(
    ("slug", "name", "timezone", "code"),
    [
        ("A", "Name", "Asia/Shanghai", "invalid_slug"),
        ("has space", "Name", "Asia/Shanghai", "invalid_slug"),
        ("ok-slug", "", "Asia/Shanghai", "invalid_name"),
        ("ok-slug", "n" * 101, "Asia/Shanghai", "invalid_name"),
        ("ok-slug", "Name\x00", "Asia/Shanghai", "invalid_text"),
        ("ok-slug", "Name", "Mars/Olympus", "invalid_timezone"),
        ("ok-slug", "Name", "../../etc/passwd", "invalid_timezone"),
    ],
)
def test_bad_community_fields_are_refused(site_admin, slug, name, timezone, code):
    with pytest.raises(Invalid) as caught:
        service.create_community(site_admin, slug, name, timezone)
    assert caught.value.code == code
    db.session.rollback()
    assert count(Community) == 0


def test_community_slug_is_unique(people):
    with pytest.raises(Conflict) as caught:
        service.create_community(people["site_admin"], "maple", "Again")
    assert caught.value.code == "slug_taken"


def test_unknown_community_is_not_found(app):
    with pytest.raises(NotFound) as caught:
        service.get_community("nowhere")
    assert caught.value.code == "community_not_found"


# --- roles ---------------------------------------------------------------------------------


def test_role_checks(people):
    community = people["community"]
    table = {
        # name: (member, community admin, may chair)
        "site_admin": (True, True, True),
        "admin": (True, True, True),
        "chair": (True, False, True),
        "resident": (True, False, False),
        "outsider": (False, False, False),
    }
    for name, (member, admin, chair) in table.items():
        user = people[name]
        assert service.is_member(user, community) is member, name
        assert service.is_community_admin(user, community) is admin, name
        assert service.can_chair(user, community) is chair, name


@pytest.mark.parametrize("role", ["site_admin", "admin", "chair"])
def test_admins_and_chairs_create_consultations_and_chair_them(people, role):
    actor = people[role]
    consultation = consultations.create_consultation(actor, people["community"], title="Lifts")
    assert consultations.role_of(actor, consultation) == "chair"
    assert consultations.can_manage(actor, consultation)


@pytest.mark.parametrize("role", ["resident", "outsider"])
def test_residents_and_outsiders_cannot_create_consultations(people, role):
    from consult.consultations.models import Consultation

    with pytest.raises(Forbidden) as caught:
        consultations.create_consultation(people[role], people["community"], title="Lifts")
    assert caught.value.code == "not_allowed_to_create"
    db.session.rollback()
    assert count(Consultation) == 0


def test_community_admin_manages_every_consultation_a_chair_only_their_own(people):
    community = people["community"]
    own = consultations.create_consultation(people["chair"], community, title="Own")
    other = consultations.create_consultation(people["admin"], community, title="Other")
    assert consultations.can_manage(people["admin"], own)
    assert consultations.can_manage(people["site_admin"], own)
    assert consultations.can_manage(people["chair"], own)
    assert not consultations.can_manage(people["chair"], other)
    assert not consultations.can_manage(people["resident"], own)


def test_resident_appointed_chair_of_one_consultation_manages_that_one(people):
    community = people["community"]
    consultation = consultations.create_consultation(people["admin"], community, title="Bins")
    consultations.set_participant(people["admin"], consultation, "resident", "chair")
    assert consultations.can_manage(people["resident"], consultation)
    consultations.transition(people["resident"], consultation, "announced")
    assert consultation.status == "announced"


# --- members -------------------------------------------------------------------------------


def test_admin_registers_a_resident(people):
    community = people["community"]
    member = service.add_member(people["admin"], community, "granny.li", "李奶奶", "li-password-1")
    assert member.role == "resident"
    user = db.session.scalar(sa.select(User).where(User.username == "granny.li"))
    assert user.display_name == "李奶奶"
    assert service.community_role(user, community) == "resident"
    # The new resident can sign in with the password the worker set.
    assert authenticate("granny.li", "li-password-1", "10.1.1.1").id == user.id
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "membership.created")
    )
    assert entry.actor_id == people["admin"].id
    assert entry.detail == {"username": "granny.li", "role": "resident"}


def test_admin_adds_an_existing_account_without_a_password(people):
    member = service.add_member(people["admin"], people["community"], "outsider", role="chair")
    assert member.user_id == people["outsider"].id and member.role == "chair"


def test_registering_a_taken_username_does_not_take_over_the_account(people):
    before = people["outsider"].password_hash
    with pytest.raises(Conflict) as caught:
        service.add_member(people["admin"], people["community"], "outsider", "X", "new-password1")
    assert caught.value.code == "username_taken"
    assert service.membership(people["outsider"], people["community"]) is None
    assert db.session.get(User, people["outsider"].id).password_hash == before


def test_adding_a_member_twice_is_refused(people):
    with pytest.raises(Conflict) as caught:
        service.add_member(people["admin"], people["community"], "resident")
    assert caught.value.code == "already_member"


def test_new_resident_needs_a_password(people):
    with pytest.raises(Invalid) as caught:
        service.add_member(people["admin"], people["community"], "newcomer", "New")
    assert caught.value.code == "password_required"
    assert count(User, User.username == "newcomer") == 0


@pytest.mark.parametrize("role", ["chair", "resident", "outsider"])
def test_only_community_admins_register_residents(people, role):
    with pytest.raises(Forbidden) as caught:
        service.add_member(people[role], people["community"], "newcomer", "N", "password-123")
    assert caught.value.code == "not_community_admin"
    db.session.rollback()
    assert count(User, User.username == "newcomer") == 0


def test_site_admin_registers_residents_anywhere(people):
    service.add_member(people["site_admin"], people["community"], "newcomer", "N", "password-123")
    assert count(User, User.username == "newcomer") == 1


def test_unknown_member_role_is_refused(people):
    with pytest.raises(Invalid) as caught:
        service.add_member(people["admin"], people["community"], "newcomer", "N", "password-123",
                           role="mayor")  # fmt: skip
    assert caught.value.code == "invalid_role"
    assert count(User, User.username == "newcomer") == 0


def test_admin_changes_a_role_and_the_log_says_so(people):
    community = people["community"]
    service.set_role(people["admin"], community, "resident", "chair")
    assert service.community_role(people["resident"], community) == "chair"
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "membership.role_changed")
    )
    assert entry.detail == {"username": "resident", "old": "resident", "new": "chair"}


def test_role_change_refusals(people):
    community = people["community"]
    with pytest.raises(Forbidden):
        service.set_role(people["chair"], community, "resident", "admin")
    with pytest.raises(NotFound) as caught:
        service.set_role(people["admin"], community, "outsider", "chair")
    assert caught.value.code == "member_not_found"
    with pytest.raises(Invalid):
        service.set_role(people["admin"], community, "resident", "king")
    with pytest.raises(Conflict) as caught:
        service.set_role(people["admin"], community, "admin", "resident")
    assert caught.value.code == "last_admin"
    db.session.rollback()
    assert service.community_role(people["admin"], community) == "admin"
    assert service.community_role(people["resident"], community) == "resident"


def test_one_user_in_several_communities(people):
    other = service.create_community(people["site_admin"], "pine", "Pine")
    service.add_member(people["site_admin"], other, "resident", role="admin")
    assert {c.slug for c in service.communities_of(people["resident"])} == {"maple", "pine"}
    assert service.community_role(people["resident"], other) == "admin"
    assert service.community_role(people["resident"], people["community"]) == "resident"


# --- CSV import ----------------------------------------------------------------------------

GOOD_AND_BAD = (
    "username,display_name,password,role\n"
    "zhang.san,张三,zhang-password,resident\n"  # line 2: added
    "resident,Someone,other-password,\n"  # line 3: taken
    "Bad Name,Bad,bad-password1,\n"  # line 4: bad username
    "li.si,李四,short,\n"  # line 5: short password
    "wang.wu,王五,wang-password,mayor\n"  # line 6: unknown role
    "zhao.liu,赵六,zhao-password,resident,extra\n"  # line 7: extra column
    "\n"  # line 8: blank, skipped
    "zhang.san,张三again,zhang-password,\n"  # line 9: duplicate within the file
    "sun.qi,孙七,sun-password-1,chair\n"  # line 10: added as chair
)


def test_csv_import_adds_good_rows_and_reports_each_refused_row(people):
    community = people["community"]
    users_before = count(User)
    report = service.import_members(people["admin"], community, GOOD_AND_BAD.encode())
    assert report.added == ["zhang.san", "sun.qi"]
    refused = {(row["line"], row["username"], row["code"]) for row in report.refused}
    assert refused == {
        (3, "resident", "username_taken"),
        (4, "Bad Name", "invalid_username"),
        (5, "li.si", "invalid_password"),
        (6, "wang.wu", "invalid_role"),
        (7, "zhao.liu", "invalid_row"),
        (9, "zhang.san", "username_taken"),
    }
    assert all(row["message"] for row in report.refused)
    # Only the two good rows were written; nothing of the refused ones.
    assert count(User) == users_before + 2
    for name in ("li.si", "wang.wu", "zhao.liu"):
        assert count(User, User.username == name) == 0
    zhang = db.session.scalar(sa.select(User).where(User.username == "zhang.san"))
    assert zhang.display_name == "张三"
    assert service.community_role(zhang, community) == "resident"
    sun = db.session.scalar(sa.select(User).where(User.username == "sun.qi"))
    assert service.community_role(sun, community) == "chair"
    assert authenticate("sun.qi", "sun-password-1", "10.2.2.2").id == sun.id
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "membership.imported")
    )
    assert entry.detail == {"added": 2, "refused": 6}


def test_csv_import_without_role_column_and_with_a_bom(people):
    data = "\ufeffusername,display_name,password\nqian.ba,钱八,qian-password\n".encode()
    report = service.import_members(people["admin"], people["community"], data)
    assert report.added == ["qian.ba"] and report.refused == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"zhang.san,Zhang,zhang-password\n",  # no header line
        b"name,password\nzhang.san,zhang-password\n",  # wrong header
        "username,display_name,password\n张三".encode("gb18030"),  # not UTF-8
    ],
)
def test_csv_without_a_usable_header_is_refused_whole(people, data):
    users_before = count(User)
    with pytest.raises(Invalid) as caught:
        service.import_members(people["admin"], people["community"], data)
    assert caught.value.code == "invalid_csv"
    db.session.rollback()
    assert count(User) == users_before


def test_csv_import_is_for_community_admins(people):
    data = b"username,display_name,password\nqian.ba,Qian,qian-password\n"
    with pytest.raises(Forbidden):
        service.import_members(people["chair"], people["community"], data)
    db.session.rollback()
    assert count(User, User.username == "qian.ba") == 0


def test_csv_import_on_the_admin_page_reports_refused_rows(client, people):
    client.post("/login", data={"username": "admin", "password": "password-123"})
    response = client.post(
        "/communities/maple/admin",
        data={"import-file": (io.BytesIO(GOOD_AND_BAD.encode()), "residents.csv")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2 added, 6 refused." in html
    assert "<td>9</td><td>zhang.san</td>" in html
    assert "<code>invalid_role</code>" in html
    assert count(Membership, Membership.community_id == people["community"].id) == 5


def test_admin_page_is_for_community_admins(client, people):
    client.post("/login", data={"username": "resident", "password": "password-123"})
    response = client.get("/communities/maple/admin")
    assert response.status_code == 403
    assert "not_community_admin" in response.get_data(as_text=True)


def test_admin_page_registers_a_resident(client, people):
    client.post("/login", data={"username": "admin", "password": "password-123"})
    response = client.post(
        "/communities/maple/admin",
        data={
            "member-username": "granny.li",
            "member-display_name": "李奶奶",
            "member-password": "li-password-1",
            "member-role": "resident",
        },
    )
    assert response.status_code == 302
    page = client.get("/communities/maple/admin").get_data(as_text=True)
    assert "李奶奶" in page
    assert count(User, User.username == "granny.li") == 1


def test_role_change_on_the_admin_page(client, people):
    client.post("/login", data={"username": "admin", "password": "password-123"})
    response = client.post(
        "/communities/maple/members/resident/role",
        data={"role": "chair"},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "Role changed." in response.get_data(as_text=True)
    assert service.community_role(people["resident"], people["community"]) == "chair"
    # The last admin keeps the role, and the page says why.
    response = client.post(
        "/communities/maple/members/admin/role",
        data={"role": "resident"},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "A community needs at least one admin." in response.get_data(as_text=True)
    assert service.community_role(people["admin"], people["community"]) == "admin"
    response = client.post(
        "/communities/maple/members/resident/role", data={"role": "emperor"},
        headers={"Accept-Language": "en"}, follow_redirects=True,
    )  # fmt: skip
    assert "Choose one of the roles." in response.get_data(as_text=True)
    assert service.community_role(people["resident"], people["community"]) == "chair"


def test_role_change_page_is_for_community_admins(client, people):
    client.post("/login", data={"username": "chairman", "password": "password-123"})
    response = client.post("/communities/maple/members/resident/role", data={"role": "admin"})
    assert response.status_code == 403
    assert service.community_role(people["resident"], people["community"]) == "resident"


def test_csv_that_cannot_be_parsed_is_refused_whole(people):
    users_before = count(User)
    data = (
        "username,display_name,password\n"
        "qian.ba,钱八,qian-password\n"
        f'zhou.jiu,"{"x" * 200_000}",zhou-password\n'  # beyond the csv module's field limit
    ).encode()
    with pytest.raises(Invalid) as caught:
        service.import_members(people["admin"], people["community"], data)
    assert caught.value.code == "invalid_csv"
    assert "3" in caught.value.message  # the line that cannot be read
    db.session.rollback()
    assert count(User) == users_before
