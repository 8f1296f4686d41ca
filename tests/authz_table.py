"""The authorisation matrix (SPEC section 2): every HTTP route and every client-to-server
Socket.IO event of Yiting against every role, with the answer each role gets.

``tests/test_authz_matrix.py`` checks that the table lists exactly the app's routes and
events, then makes every call as every role on a fresh copy of a prepared world and compares.

Roles (columns)
    visitor     not signed in
    outsider    a resident of another community
    resident    a member of the community, taking no part in the consultation under test
    observer, speaker, voter, secretary
                residents taking part in the consultation with that role
    chair       a committee member (community role ``chair``) chairing the consultation
    admin       a community admin (residents' committee staff), taking no part in it
    site_admin  the operator (counts as a member and an admin of every community)

The world (ids in ``{braces}`` in addresses and payloads)
    open_live        the demo's live consultation, access ``open`` (membership suffices)
    draft, announced, live, closed
                     invited-only consultations in that status; the roles above take part
    open_announced   an announced consultation with access ``open``
    foreign          an invited, announced consultation chaired by someone else, in which
                     none of the roles above takes part
    message          the voter's message in ``live`` (its sequence number)
    m_draft, m_submitted, m_seconded, m_voting
                     motions of ``live`` proposed by the voter, in that state
    amendment        the speaker's amendment to ``m_submitted``
    vote             the open vote (open ballot, live results) on ``m_voting``
    o_draft          the draft outcome of ``closed``
    o_pub            a published outcome (notice period open; the speaker is the
                     responsible party), with the voter's ``objection``
    o_done           a completed outcome (ratings open)
    topic            the voter's open topic, filed under ``category``

Answers (cells)
    200 201 204      success with that status
    ok               a form that succeeded: redirected with a confirmation
    redirect         redirected without a message (sign-in, language, a page moved on)
    login            sent to the sign-in page
    flash:<code>     a form refused: redirected back with the error of that code
    <status>:<code>  refused with that status and error code (JSON or error page)
    refused          (Socket.IO) the connection itself is refused: not signed in
    <code>           (Socket.IO) the acknowledgement ``{"ok": false}`` with that code
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLES = (
    "visitor", "outsider", "resident", "observer", "speaker", "voter", "secretary", "chair",
    "admin", "site_admin",
)  # fmt: skip

#: username and display name of each role's account (the visitor has none).
PEOPLE = {
    "visitor": (None, None),
    "outsider": ("olga", "Olga (another community)"),
    "resident": ("rita", "Rita (resident)"),
    "observer": ("otto", "Otto (observer)"),
    "speaker": ("sven", "Sven (speaker)"),
    "voter": ("vera", "Vera (voter)"),
    "secretary": ("sara", "Sara (secretary)"),
    "chair": ("carl", "Carl (chair)"),
    "admin": ("adam", "Adam (community admin)"),
    "site_admin": ("sam", "Sam (site admin)"),
}

#: Groups of roles that a cell may name at once (individual roles override a group).
GROUPS = {
    "signed_in": ROLES[1:],
    "members": ROLES[2:],  # the site admin counts as a member of every community
    "strangers": ("outsider", "resident"),  # signed in, not taking part
    "participants": ("observer", "speaker", "voter", "secretary", "chair"),
    "speakers": ("speaker", "voter", "secretary", "chair"),  # speaking rights
    "managers": ("chair", "admin", "site_admin"),  # may steer the consultation
    "viewers": ("observer", "speaker", "voter", "secretary", "chair", "admin", "site_admin"),
    "recorders": ("secretary", "chair", "admin", "site_admin"),
    "deciders": ("chair", "admin", "site_admin"),  # community roles chair and admin
    "admins": ("admin", "site_admin"),
}


def cells(default: str | None = None, **given: str) -> dict[str, str]:
    """Every role's answer: ``default``, then the groups and roles named, in order."""
    answers = dict.fromkeys(ROLES, default)
    for name, answer in given.items():
        if name in GROUPS:
            for role in GROUPS[name]:
                answers[role] = answer
        elif name in answers:
            answers[name] = answer
        else:
            raise KeyError(f"unknown role or group: {name}")
    missing = [role for role, answer in answers.items() if answer is None]
    if missing:
        raise ValueError(f"no answer for {missing}")
    return answers


@dataclass(frozen=True)
class Call:
    """One call of a route or event with its expected answers.

    ``path`` and string values in the payloads are formatted with the world's ids and
    ``me`` (the caller's username); a payload may also be a function of the world.
    """

    expect: dict[str, str]
    path: str = ""
    json: Any = None
    form: Any = None
    data: Any = None  # Socket.IO event data
    label: str = ""
    #: A write that answers with a bare redirect (no confirmation): check that it wrote.
    redirect_writes: bool = False


# --- answers that recur ------------------------------------------------------------------------

API_SIGN_IN = "401:unauthorized"
HIDDEN = "404:consultation_not_found"  # a visitor learns nothing of an invited consultation
NOT_INVITED = "403:not_invited"
PUBLIC = cells("200")


def read_invited(ok="200"):
    """Reading an invited consultation (or its parts) through the API or a page."""
    return cells(ok, visitor=HIDDEN, strangers=NOT_INVITED)


def api_manage(ok: str, participants="403:not_chair"):
    """The chair's calls on an invited consultation."""
    return cells(
        ok, visitor=API_SIGN_IN, strangers=NOT_INVITED, participants=participants, chair=ok
    )


def page_manage(ok: str):
    """The chair's forms that refuse through a flashed error."""
    return cells(
        ok,
        visitor="login",
        strangers="flash:not_invited",
        participants="flash:not_chair",
        chair=ok,
    )


def socket(default: str, **given: str):
    """A Socket.IO event's answers: a visitor's connection is refused before any event."""
    return cells(default, **given, visitor="refused")


# --- HTTP routes ---------------------------------------------------------------------------------

MOTION = {"title": "A motion", "text": "Let us plant trees."}
VOTE_SETTINGS = {
    "kind": "yes_no_abstain",
    "secret": False,
    "threshold": "simple",
    "quorum": None,
    "results": "live",
}
VOTE_FORM = {"kind": "yes_no_abstain", "threshold": "simple", "results": "live"}
NEW_MEMBER = {"username": "newcomer", "display_name": "Newcomer", "password": "password-123"}
CONSULTATION_FORM = {
    "title": "A new matter",
    "description": "Background.",
    "form": "council",
    "access": "invited",
    "seconds_required": "1",
    "default_threshold": "simple",
}

ROUTES: dict[tuple[str, str], list[Call]] = {
    # --- pages anyone may open, switches ---------------------------------------------------------
    ("GET", "/"): [Call(PUBLIC, "/")],
    ("GET", "/lang/<code>"): [Call(cells("redirect"), "/lang/en")],
    ("GET", "/text/<size>"): [Call(cells("redirect"), "/text/large")],
    ("GET", "/vendor/<name>"): [Call(PUBLIC, "/vendor/socket.io.esm.min.js")],
    # --- accounts ----------------------------------------------------------------------------
    ("GET", "/login"): [Call(PUBLIC, "/login")],
    ("POST", "/login"): [
        Call(
            cells("redirect"),
            "/login",
            form={"username": "{me}", "password": "yiting-demo"},
            label="own credentials (the visitor uses the resident's)",
        )
    ],
    ("GET", "/register"): [Call(cells("redirect", visitor="200"), "/register")],
    ("POST", "/register"): [
        Call(
            cells("redirect", visitor="ok"),
            "/register",
            form={**NEW_MEMBER, "confirm": NEW_MEMBER["password"]},
            label="a signed-in person is sent home, nothing is registered",
        )
    ],
    ("POST", "/logout"): [Call(cells("redirect"), "/logout")],
    ("POST", "/api/v1/token"): [
        Call(cells("201"), "/api/v1/token", json={"username": "{me}", "password": "yiting-demo"})
    ],
    ("DELETE", "/api/v1/token"): [Call(cells("204", visitor=API_SIGN_IN), "/api/v1/token")],
    ("GET", "/api/v1/me"): [Call(cells("200", visitor=API_SIGN_IN), "/api/v1/me")],
    # --- communities -------------------------------------------------------------------------
    ("GET", "/communities/<slug>"): [Call(PUBLIC, "/communities/{slug}")],
    ("GET", "/communities/<slug>/admin"): [
        Call(
            cells("403:not_community_admin", visitor="login", admins="200"),
            "/communities/{slug}/admin",
        )
    ],
    ("POST", "/communities/<slug>/admin"): [
        Call(
            cells("403:not_community_admin", visitor="login", admins="ok"),
            "/communities/{slug}/admin",
            form={f"member-{k}": v for k, v in {**NEW_MEMBER, "role": "resident"}.items()},
        )
    ],
    ("POST", "/communities/<slug>/members/<username>/role"): [
        Call(
            cells("403:not_community_admin", visitor="login", admins="ok"),
            "/communities/{slug}/members/rita/role",
            form={"role": "chair"},
        )
    ],
    ("GET", "/communities/<slug>/consultations/new"): [
        Call(
            cells("403:not_allowed_to_create", visitor="login", deciders="200"),
            "/communities/{slug}/consultations/new",
        )
    ],
    ("POST", "/communities/<slug>/consultations/new"): [
        Call(
            cells("403:not_allowed_to_create", visitor="login", deciders="redirect"),
            "/communities/{slug}/consultations/new",
            form=CONSULTATION_FORM,
            redirect_writes=True,
        )
    ],
    ("GET", "/api/v1/communities"): [Call(PUBLIC, "/api/v1/communities")],
    ("POST", "/api/v1/communities"): [
        Call(
            cells("403:not_site_admin", visitor=API_SIGN_IN, site_admin="201"),
            "/api/v1/communities",
            json={"slug": "riverside", "name": "Riverside"},
        )
    ],
    ("GET", "/api/v1/communities/<slug>/members"): [
        Call(
            cells("403:not_community_admin", visitor=API_SIGN_IN, admins="200"),
            "/api/v1/communities/{slug}/members",
        ),
        Call(
            cells("403:not_community_admin", visitor=API_SIGN_IN, site_admin="200"),
            "/api/v1/communities/{other_slug}/members",
            label="another community: its resident and the admin of this one are refused",
        ),
    ],
    ("POST", "/api/v1/communities/<slug>/members"): [
        Call(
            cells("403:not_community_admin", visitor=API_SIGN_IN, admins="201"),
            "/api/v1/communities/{slug}/members",
            json=NEW_MEMBER,
        ),
        Call(
            cells("403:not_community_admin", visitor=API_SIGN_IN, site_admin="201"),
            "/api/v1/communities/{other_slug}/members",
            json=NEW_MEMBER,
            label="another community",
        ),
    ],
    ("POST", "/api/v1/communities/<slug>/members/<username>/role"): [
        Call(
            cells("403:not_community_admin", visitor=API_SIGN_IN, admins="200"),
            "/api/v1/communities/{slug}/members/rita/role",
            json={"role": "chair"},
        )
    ],
    ("GET", "/api/v1/communities/<slug>/consultations"): [
        Call(PUBLIC, "/api/v1/communities/{slug}/consultations")
    ],
    # --- consultations -------------------------------------------------------------------------
    ("POST", "/api/v1/consultations"): [
        Call(
            cells("403:not_allowed_to_create", visitor=API_SIGN_IN, deciders="201"),
            "/api/v1/consultations",
            json={"community": "{slug}", "title": "A new matter"},
        ),
        Call(
            cells("403:not_allowed_to_create", visitor=API_SIGN_IN, site_admin="201"),
            "/api/v1/consultations",
            json={"community": "{other_slug}", "title": "A new matter"},
            label="in another community",
        ),
    ],
    ("GET", "/api/v1/consultations/<int:consultation_id>"): [
        Call(read_invited(), "/api/v1/consultations/{live}", label="invited"),
        Call(PUBLIC, "/api/v1/consultations/{open_live}", label="open"),
        Call(
            cells(HIDDEN, secretary="200", managers="200"),
            "/api/v1/consultations/{draft}",
            label="draft: the secretary helps prepare it",
        ),
    ],
    ("PATCH", "/api/v1/consultations/<int:consultation_id>"): [
        Call(
            cells(HIDDEN, visitor=API_SIGN_IN, secretary="403:not_chair", managers="200"),
            "/api/v1/consultations/{draft}",
            json={"title": "Renamed"},
        )
    ],
    ("POST", "/api/v1/consultations/<int:consultation_id>/participants"): [
        Call(
            api_manage("200"),
            "/api/v1/consultations/{live}/participants",
            json={"username": "rita", "role": "observer"},
        )
    ],
    ("DELETE", "/api/v1/consultations/<int:consultation_id>/participants/<username>"): [
        Call(api_manage("204"), "/api/v1/consultations/{live}/participants/otto")
    ],
    ("POST", "/api/v1/consultations/<int:consultation_id>/transition"): [
        Call(
            api_manage("200"), "/api/v1/consultations/{announced}/transition", json={"to": "live"}
        ),
        Call(
            cells(NOT_INVITED, visitor=API_SIGN_IN, admins="200"),
            "/api/v1/consultations/{foreign}/transition",
            json={"to": "live"},
            label="a consultation someone else chairs",
        ),
    ],
    ("GET", "/consultations/<int:consultation_id>"): [
        Call(read_invited(), "/consultations/{live}", label="invited (the room)"),
        Call(PUBLIC, "/consultations/{open_live}", label="open"),
        Call(
            cells(HIDDEN, secretary="200", managers="200"), "/consultations/{draft}", label="draft"
        ),
    ],
    ("GET", "/consultations/<int:consultation_id>/calendar.ics"): [
        Call(read_invited(), "/consultations/{live}/calendar.ics", label="invited"),
        Call(
            cells(HIDDEN, secretary="200", managers="200"),
            "/consultations/{draft}/calendar.ics",
            label="draft",
        ),
    ],
    ("GET", "/consultations/<int:consultation_id>/edit"): [
        Call(
            cells(HIDDEN, visitor="login", secretary="403:not_chair", managers="200"),
            "/consultations/{draft}/edit",
        )
    ],
    ("POST", "/consultations/<int:consultation_id>/edit"): [
        Call(
            cells(HIDDEN, visitor="login", secretary="403:not_chair", managers="ok"),
            "/consultations/{draft}/edit",
            form={**CONSULTATION_FORM, "title": "Renamed"},
        )
    ],
    ("POST", "/consultations/<int:consultation_id>/participants"): [
        Call(
            page_manage("ok"),
            "/consultations/{live}/participants",
            form={"username": "rita", "role": "observer"},
        )
    ],
    ("POST", "/consultations/<int:consultation_id>/participants/<username>/remove"): [
        Call(
            page_manage("redirect"),
            "/consultations/{live}/participants/otto/remove",
            redirect_writes=True,
        )
    ],
    ("POST", "/consultations/<int:consultation_id>/transition"): [
        Call(page_manage("ok"), "/consultations/{announced}/transition", form={"to": "live"})
    ],
    # --- the live room -------------------------------------------------------------------------
    ("GET", "/api/v1/consultations/<int:consultation_id>/messages"): [
        Call(
            cells("200", visitor=API_SIGN_IN, strangers="403:not_participant"),
            "/api/v1/consultations/{live}/messages",
            label="invited",
        ),
        Call(
            cells("200", visitor=API_SIGN_IN, outsider="403:not_participant"),
            "/api/v1/consultations/{open_live}/messages",
            label="open",
        ),
    ],
    ("POST", "/api/v1/consultations/<int:consultation_id>/messages"): [
        Call(
            cells(
                "201",
                visitor=API_SIGN_IN,
                strangers="403:not_participant",
                observer="403:cannot_speak",
            ),
            "/api/v1/consultations/{live}/messages",
            json={"body": "Hello.", "client_id": "matrix-1"},
            label="invited",
        ),
        Call(
            cells(
                "201",
                visitor=API_SIGN_IN,
                outsider="403:not_participant",
                observer="403:cannot_speak",
            ),
            "/api/v1/consultations/{open_live}/messages",
            json={"body": "Hello.", "client_id": "matrix-1"},
            label="open: a member takes part as a voter",
        ),
    ],
    ("GET", "/api/v1/consultations/<int:consultation_id>/room"): [
        Call(
            cells("200", visitor=API_SIGN_IN, strangers="403:not_participant"),
            "/api/v1/consultations/{live}/room",
        )
    ],
    ("GET", "/api/v1/consultations/<int:consultation_id>/floor-opinions"): [
        Call(
            cells("200", visitor=API_SIGN_IN, strangers="403:not_participant"),
            "/api/v1/consultations/{live}/floor-opinions",
        )
    ],
    ("POST", "/consultations/<int:consultation_id>/messages"): [
        Call(
            cells(
                "redirect",
                visitor="login",
                strangers="flash:not_participant",
                observer="flash:cannot_speak",
            ),
            "/consultations/{live}/messages",
            form={"body": "Hello.", "client_id": "matrix-1"},
            label="invited",
            redirect_writes=True,
        ),
        Call(
            cells(
                "redirect",
                visitor="login",
                outsider="flash:not_participant",
                observer="flash:cannot_speak",
            ),
            "/consultations/{open_live}/messages",
            form={"body": "Hello.", "client_id": "matrix-1"},
            label="open",
            redirect_writes=True,
        ),
    ],
    # --- motions, amendments, votes: the API ----------------------------------------------------
    ("POST", "/api/v1/consultations/<int:consultation_id>/motions"): [
        Call(
            cells(
                "201", visitor=API_SIGN_IN, strangers=NOT_INVITED, observer="403:no_speaking_rights"
            ),
            "/api/v1/consultations/{live}/motions",
            json=MOTION,
            label="invited",
        ),
        Call(
            cells(
                "201",
                visitor=API_SIGN_IN,
                outsider="403:not_participant",
                observer="403:no_speaking_rights",
            ),
            "/api/v1/consultations/{open_live}/motions",
            json=MOTION,
            label="open",
        ),
    ],
    ("GET", "/api/v1/consultations/<int:consultation_id>/motions"): [
        Call(read_invited(), "/api/v1/consultations/{live}/motions")
    ],
    ("GET", "/api/v1/consultations/<int:consultation_id>/votes"): [
        Call(read_invited(), "/api/v1/consultations/{live}/votes")
    ],
    ("GET", "/api/v1/motions/<int:motion_id>"): [
        Call(read_invited(), "/api/v1/motions/{m_submitted}")
    ],
    ("PATCH", "/api/v1/motions/<int:motion_id>"): [
        Call(
            api_manage("200", participants="403:not_proposer") | {"voter": "200"},
            "/api/v1/motions/{m_draft}",
            json={"text": "Let us plant more trees."},
            label="the proposer or the chair",
        )
    ],
    ("GET", "/api/v1/motions/<int:motion_id>/diff"): [
        Call(read_invited(), "/api/v1/motions/{m_submitted}/diff")
    ],
    ("POST", "/api/v1/motions/<int:motion_id>/submit"): [
        Call(
            api_manage("200", participants="403:not_proposer") | {"voter": "200"},
            "/api/v1/motions/{m_draft}/submit",
        )
    ],
    ("POST", "/api/v1/motions/<int:motion_id>/second"): [
        Call(
            cells(
                "200",
                visitor=API_SIGN_IN,
                strangers=NOT_INVITED,
                observer="403:no_speaking_rights",
                voter="403:cannot_second_own",
            ),
            "/api/v1/motions/{m_submitted}/second",
        )
    ],
    ("POST", "/api/v1/motions/<int:motion_id>/withdraw"): [
        Call(
            cells("403:not_proposer", visitor=API_SIGN_IN, strangers=NOT_INVITED, voter="200"),
            "/api/v1/motions/{m_draft}/withdraw",
            label="the proposer only",
        )
    ],
    ("POST", "/api/v1/motions/<int:motion_id>/table"): [
        Call(api_manage("200"), "/api/v1/motions/{m_submitted}/table")
    ],
    ("POST", "/api/v1/motions/<int:motion_id>/amendments"): [
        Call(
            cells(
                "201", visitor=API_SIGN_IN, strangers=NOT_INVITED, observer="403:no_speaking_rights"
            ),
            "/api/v1/motions/{m_submitted}/amendments",
            json={"text": "Let us plant fruit trees."},
        )
    ],
    ("POST", "/api/v1/motions/<int:motion_id>/votes"): [
        Call(api_manage("201"), "/api/v1/motions/{m_seconded}/votes", json=VOTE_SETTINGS)
    ],
    ("GET", "/api/v1/amendments/<int:amendment_id>"): [
        Call(read_invited(), "/api/v1/amendments/{amendment}")
    ],
    ("POST", "/api/v1/amendments/<int:amendment_id>/accept"): [
        Call(api_manage("200"), "/api/v1/amendments/{amendment}/accept")
    ],
    ("POST", "/api/v1/amendments/<int:amendment_id>/reject"): [
        Call(api_manage("200"), "/api/v1/amendments/{amendment}/reject", json={"reason": "No."})
    ],
    ("POST", "/api/v1/amendments/<int:amendment_id>/votes"): [
        Call(
            api_manage("201"),
            "/api/v1/amendments/{amendment}/votes",
            json={k: v for k, v in VOTE_SETTINGS.items() if k != "kind"},
        )
    ],
    ("GET", "/api/v1/votes/<int:vote_id>"): [Call(read_invited(), "/api/v1/votes/{vote}")],
    ("POST", "/api/v1/votes/<int:vote_id>/ballots"): [
        Call(
            cells(
                "403:not_eligible",
                visitor=API_SIGN_IN,
                strangers=NOT_INVITED,
                voter="201",
                chair="201",
            ),
            "/api/v1/votes/{vote}/ballots",
            json={"choice": "yes", "reason": "Trees are good."},
            label="the voters (and the chair) frozen when the vote opened",
        )
    ],
    ("POST", "/api/v1/votes/<int:vote_id>/close"): [
        Call(api_manage("200"), "/api/v1/votes/{vote}/close")
    ],
    # --- motions: pages and forms ----------------------------------------------------------------
    ("GET", "/motions/<int:motion_id>"): [Call(read_invited(), "/motions/{m_submitted}")],
    ("GET", "/motions/<int:motion_id>/card"): [Call(read_invited(), "/motions/{m_submitted}/card")],
    ("GET", "/consultations/<int:consultation_id>/motions/panel"): [
        Call(read_invited(), "/consultations/{live}/motions/panel")
    ],
    ("POST", "/consultations/<int:consultation_id>/motions/new"): [
        Call(
            cells(
                "ok", visitor="login", strangers=NOT_INVITED, observer="flash:no_speaking_rights"
            ),
            "/consultations/{live}/motions/new",
            form=MOTION,
            label="invited",
        ),
        Call(
            cells(
                "ok",
                visitor="login",
                outsider="flash:not_participant",
                observer="flash:no_speaking_rights",
            ),
            "/consultations/{open_live}/motions/new",
            form=MOTION,
            label="open",
        ),
    ],
    ("POST", "/motions/<int:motion_id>/edit"): [
        Call(
            cells(
                "flash:not_proposer",
                visitor="login",
                strangers=NOT_INVITED,
                voter="ok",
                managers="ok",
            ),
            "/motions/{m_draft}/edit",
            form={"title": "Draft motion", "text": "Let us plant more trees."},
        )
    ],
    ("POST", "/motions/<int:motion_id>/submit"): [
        Call(
            cells(
                "flash:not_proposer",
                visitor="login",
                strangers=NOT_INVITED,
                voter="ok",
                managers="ok",
            ),
            "/motions/{m_draft}/submit",
        )
    ],
    ("POST", "/motions/<int:motion_id>/second"): [
        Call(
            cells(
                "ok",
                visitor="login",
                strangers=NOT_INVITED,
                observer="flash:no_speaking_rights",
                voter="flash:cannot_second_own",
            ),
            "/motions/{m_submitted}/second",
        )
    ],
    ("POST", "/motions/<int:motion_id>/withdraw"): [
        Call(
            cells("flash:not_proposer", visitor="login", strangers=NOT_INVITED, voter="ok"),
            "/motions/{m_draft}/withdraw",
        )
    ],
    ("POST", "/motions/<int:motion_id>/table"): [
        Call(
            cells("flash:not_chair", visitor="login", strangers=NOT_INVITED, managers="ok"),
            "/motions/{m_submitted}/table",
        )
    ],
    ("POST", "/motions/<int:motion_id>/amendments"): [
        Call(
            cells(
                "ok", visitor="login", strangers=NOT_INVITED, observer="flash:no_speaking_rights"
            ),
            "/motions/{m_submitted}/amendments",
            form={"text": "Let us plant fruit trees."},
        )
    ],
    ("POST", "/motions/<int:motion_id>/vote"): [
        Call(
            cells("flash:not_chair", visitor="login", strangers=NOT_INVITED, managers="ok"),
            "/motions/{m_seconded}/vote",
            form=VOTE_FORM,
        )
    ],
    ("POST", "/amendments/<int:amendment_id>/<action>"): [
        Call(
            cells("flash:not_chair", visitor="login", strangers=NOT_INVITED, managers="ok"),
            f"/amendments/{{amendment}}/{action}",
            form=form,
            label=action,
        )
        for action, form in (
            ("accept", {}),
            ("reject", {"reason": "No."}),
            ("vote", {"threshold": "simple", "results": "live"}),
        )
    ],
    ("POST", "/votes/<int:vote_id>/ballot"): [
        Call(
            cells(
                "flash:not_eligible", visitor="login", strangers=NOT_INVITED, voter="ok", chair="ok"
            ),
            "/votes/{vote}/ballot",
            form={"choice": "yes", "reason": "Trees are good."},
        )
    ],
    ("POST", "/votes/<int:vote_id>/close"): [
        Call(
            cells("flash:not_chair", visitor="login", strangers=NOT_INVITED, managers="ok"),
            "/votes/{vote}/close",
        )
    ],
    # --- outcomes and the notice board ---------------------------------------------------------
    ("POST", "/api/v1/consultations/<int:consultation_id>/outcome"): [
        Call(
            api_manage("200"),
            "/api/v1/consultations/{closed}/outcome",
            json={"summary": "A better summary."},
            label="updates the draft",
        )
    ],
    ("GET", "/api/v1/consultations/<int:consultation_id>/outcome"): [
        Call(
            read_invited("404:outcome_not_found") | dict.fromkeys(GROUPS["managers"], "200"),
            "/api/v1/consultations/{closed}/outcome",
            label="a draft: the chair's only",
        ),
        Call(
            read_invited(),
            "/api/v1/consultations/{published}/outcome",
            label="published",
        ),
    ],
    ("POST", "/api/v1/outcomes/<int:outcome_id>/publish"): [
        Call(
            cells("404:outcome_not_found", visitor=API_SIGN_IN, managers="200"),
            "/api/v1/outcomes/{o_draft}/publish",
            label="a draft is hidden from all but the chair",
        )
    ],
    ("POST", "/api/v1/outcomes/<int:outcome_id>/corrections"): [
        Call(
            cells("403:not_chair", visitor=API_SIGN_IN, managers="201"),
            "/api/v1/outcomes/{o_pub}/corrections",
            json={"reason": "A typo.", "summary": "The corrected summary."},
        )
    ],
    ("POST", "/api/v1/outcomes/<int:outcome_id>/objections"): [
        Call(
            cells("201", visitor=API_SIGN_IN, outsider="403:not_member"),
            "/api/v1/outcomes/{o_pub}/objections",
            json={"reason": "The budget is too high."},
        )
    ],
    ("POST", "/api/v1/objections/<int:objection_id>/answer"): [
        Call(
            cells("403:not_chair", visitor=API_SIGN_IN, managers="200"),
            "/api/v1/objections/{objection}/answer",
            json={"answer": "It is within the fund."},
        )
    ],
    ("POST", "/api/v1/outcomes/<int:outcome_id>/progress"): [
        Call(
            cells("403:not_chair", visitor=API_SIGN_IN, speaker="201", managers="201"),
            "/api/v1/outcomes/{o_pub}/progress",
            json={"percent": 50, "note": "Half done."},
            label="the responsible party (the speaker here) or the chair",
        )
    ],
    ("POST", "/api/v1/outcomes/<int:outcome_id>/complete"): [
        Call(
            cells("403:not_chair", visitor=API_SIGN_IN, managers="200"),
            "/api/v1/outcomes/{o_pub}/complete",
        )
    ],
    ("POST", "/api/v1/outcomes/<int:outcome_id>/ratings"): [
        Call(
            cells("201", visitor=API_SIGN_IN, outsider="403:not_member"),
            "/api/v1/outcomes/{o_done}/ratings",
            json={"stars": 4, "comment": "Well done."},
        )
    ],
    ("GET", "/api/v1/notice"): [Call(PUBLIC, "/api/v1/notice?community={slug}")],
    ("GET", "/api/v1/notice/<int:outcome_id>"): [
        Call(PUBLIC, "/api/v1/notice/{o_pub}", label="published"),
        Call(cells("404:outcome_not_found"), "/api/v1/notice/{o_draft}", label="a draft"),
    ],
    ("GET", "/api/v1/notice/<int:outcome_id>/versions/<int:number>"): [
        Call(PUBLIC, "/api/v1/notice/{o_pub}/versions/1")
    ],
    ("GET", "/notice"): [Call(PUBLIC, "/notice")],
    ("GET", "/notice/feed.atom"): [Call(PUBLIC, "/notice/feed.atom")],
    ("GET", "/communities/<slug>/notice.atom"): [Call(PUBLIC, "/communities/{slug}/notice.atom")],
    ("GET", "/notice/<int:outcome_id>"): [
        Call(PUBLIC, "/notice/{o_pub}", label="published"),
        Call(cells("404:outcome_not_found"), "/notice/{o_draft}", label="a draft"),
    ],
    ("GET", "/notice/<int:outcome_id>/v/<int:number>"): [Call(PUBLIC, "/notice/{o_pub}/v/1")],
    ("GET", "/notice/<int:outcome_id>/v/<int:number>/record.json"): [
        Call(PUBLIC, "/notice/{o_pub}/v/1/record.json")
    ],
    ("POST", "/notice/<int:outcome_id>/objections"): [
        Call(
            cells("ok", visitor="login", outsider="flash:not_member"),
            "/notice/{o_pub}/objections",
            form={"reason": "The budget is too high."},
        )
    ],
    ("POST", "/notice/objections/<int:objection_id>/answer"): [
        Call(
            cells("flash:not_chair", visitor="login", managers="ok"),
            "/notice/objections/{objection}/answer",
            form={"answer": "It is within the fund."},
        )
    ],
    ("POST", "/notice/<int:outcome_id>/progress"): [
        Call(
            cells("flash:not_chair", visitor="login", speaker="ok", managers="ok"),
            "/notice/{o_pub}/progress",
            form={"percent": "50", "note": "Half done."},
        )
    ],
    ("POST", "/notice/<int:outcome_id>/complete"): [
        Call(cells("flash:not_chair", visitor="login", managers="ok"), "/notice/{o_pub}/complete")
    ],
    ("POST", "/notice/<int:outcome_id>/ratings"): [
        Call(
            cells("ok", visitor="login", outsider="flash:not_member"),
            "/notice/{o_done}/ratings",
            form={"stars": "4", "comment": "Well done."},
        )
    ],
    ("GET", "/consultations/<int:consultation_id>/outcome"): [
        Call(
            cells("403:not_chair", visitor="login", strangers=NOT_INVITED, managers="200"),
            "/consultations/{closed}/outcome",
        )
    ],
    ("POST", "/consultations/<int:consultation_id>/outcome"): [
        Call(
            cells("403:not_chair", visitor="login", strangers=NOT_INVITED, managers="ok"),
            "/consultations/{closed}/outcome",
            form={"summary": "A better summary.", "notice_days": "7"},
        )
    ],
    ("POST", "/outcomes/<int:outcome_id>/publish"): [
        Call(
            cells("404:outcome_not_found", visitor="login", managers="ok"),
            "/outcomes/{o_draft}/publish",
        )
    ],
    ("GET", "/notice/<int:outcome_id>/correct"): [
        Call(cells("403:not_chair", visitor="login", managers="200"), "/notice/{o_pub}/correct")
    ],
    ("POST", "/notice/<int:outcome_id>/correct"): [
        Call(
            cells("403:not_chair", visitor="login", managers="ok"),
            "/notice/{o_pub}/correct",
            form={"reason": "A typo.", "summary": "The corrected summary.", "notice_days": "7"},
        )
    ],
    ("GET", "/consultations/<int:consultation_id>/minutes"): [
        Call(read_invited(), "/consultations/{closed}/minutes")
    ],
    ("GET", "/consultations/<int:consultation_id>/minutes.md"): [
        Call(read_invited(), "/consultations/{closed}/minutes.md")
    ],
    ("GET", "/consultations/<int:consultation_id>/minutes.json"): [
        Call(read_invited(), "/consultations/{closed}/minutes.json")
    ],
    # --- topics, categories, the announcement, notifications ---------------------------------
    ("POST", "/api/v1/communities/<slug>/topics"): [
        Call(
            cells("201", visitor=API_SIGN_IN, outsider="403:not_member"),
            "/api/v1/communities/{slug}/topics",
            json={"title": "A bench", "description": "By the pond.", "category": "Environment"},
        )
    ],
    ("GET", "/api/v1/communities/<slug>/topics"): [
        Call(
            cells("200", visitor=API_SIGN_IN, outsider="403:not_member"),
            "/api/v1/communities/{slug}/topics",
        )
    ],
    ("GET", "/api/v1/topics"): [Call(cells("200", visitor=API_SIGN_IN), "/api/v1/topics")],
    ("GET", "/api/v1/topics/<int:topic_id>"): [
        Call(cells("200", visitor=API_SIGN_IN, outsider="403:not_member"), "/api/v1/topics/{topic}")
    ],
    ("POST", "/api/v1/topics/<int:topic_id>/support"): [
        Call(
            cells("201", visitor=API_SIGN_IN, outsider="403:not_member", voter="403:own_topic"),
            "/api/v1/topics/{topic}/support",
        )
    ],
    ("POST", "/api/v1/topics/<int:topic_id>/accept"): [
        Call(
            cells("403:not_chair", visitor=API_SIGN_IN, deciders="201"),
            "/api/v1/topics/{topic}/accept",
            json={"title": "Benches"},
        )
    ],
    ("POST", "/api/v1/topics/<int:topic_id>/decline"): [
        Call(
            cells("403:not_chair", visitor=API_SIGN_IN, deciders="200"),
            "/api/v1/topics/{topic}/decline",
            json={"reason": "No budget this year."},
        )
    ],
    ("GET", "/api/v1/communities/<slug>/categories"): [
        Call(
            cells("200", visitor=API_SIGN_IN, outsider="403:not_member"),
            "/api/v1/communities/{slug}/categories",
        )
    ],
    ("POST", "/api/v1/communities/<slug>/categories"): [
        Call(
            cells("403:not_community_admin", visitor=API_SIGN_IN, admins="201"),
            "/api/v1/communities/{slug}/categories",
            json={"name": "Safety"},
        )
    ],
    ("PATCH", "/api/v1/communities/<slug>/categories/<int:category_id>"): [
        Call(
            cells("403:not_community_admin", visitor=API_SIGN_IN, admins="200"),
            "/api/v1/communities/{slug}/categories/{category}",
            json={"name": "Green spaces"},
        )
    ],
    ("GET", "/api/v1/consultations/<int:consultation_id>/attendance"): [
        Call(read_invited(), "/api/v1/consultations/{announced}/attendance")
    ],
    ("POST", "/api/v1/consultations/<int:consultation_id>/attendance"): [
        Call(
            cells("200", visitor=API_SIGN_IN, strangers=NOT_INVITED, admins="403:not_participant"),
            "/api/v1/consultations/{announced}/attendance",
            json={"answer": "yes"},
            label="invited: its participants",
        ),
        Call(
            cells("200", visitor=API_SIGN_IN, outsider="403:not_participant"),
            "/api/v1/consultations/{open_announced}/attendance",
            json={"answer": "yes"},
            label="open: every member",
        ),
    ],
    ("GET", "/api/v1/consultations/<int:consultation_id>/written-opinions"): [
        Call(read_invited(), "/api/v1/consultations/{announced}/written-opinions")
    ],
    ("POST", "/api/v1/consultations/<int:consultation_id>/written-opinions"): [
        Call(
            cells(
                "201",
                visitor=API_SIGN_IN,
                strangers=NOT_INVITED,
                observer="403:observer_read_only",
                admins="403:not_participant",
            ),
            "/api/v1/consultations/{announced}/written-opinions",
            json={"text": "I support the plan."},
            label="invited",
        ),
        Call(
            cells(
                "201",
                visitor=API_SIGN_IN,
                outsider="403:not_participant",
                observer="403:observer_read_only",
                site_admin="403:not_participant",
            ),
            "/api/v1/consultations/{open_announced}/written-opinions",
            json={"text": "I support the plan."},
            label="open: members (the site admin is a member of none)",
        ),
    ],
    ("GET", "/api/v1/notifications"): [
        Call(cells("200", visitor=API_SIGN_IN), "/api/v1/notifications")
    ],
    ("POST", "/api/v1/notifications/read"): [
        Call(cells("200", visitor=API_SIGN_IN), "/api/v1/notifications/read", json={})
    ],
    ("GET", "/topics"): [Call(PUBLIC, "/topics")],
    ("GET", "/topics/new"): [
        Call(
            cells("200", visitor="login", outsider="403:not_member"),
            "/topics/new?community={slug}",
        )
    ],
    ("POST", "/topics/new"): [
        Call(
            cells("ok", visitor="login", outsider="403:not_member"),
            "/topics/new?community={slug}",
            form={"title": "A bench", "description": "By the pond.", "category": "{category}"},
        )
    ],
    ("GET", "/topics/<int:topic_id>"): [
        Call(cells("200", visitor="401", outsider="403:not_member"), "/topics/{topic}")
    ],
    ("POST", "/topics/<int:topic_id>/support"): [
        Call(
            cells("ok", visitor="login", outsider="flash:not_member", voter="flash:own_topic"),
            "/topics/{topic}/support",
        )
    ],
    ("POST", "/topics/<int:topic_id>/accept"): [
        Call(
            cells("flash:not_chair", visitor="login", deciders="ok"),
            "/topics/{topic}/accept",
            form={"title": "Benches"},
        )
    ],
    ("POST", "/topics/<int:topic_id>/decline"): [
        Call(
            cells("flash:not_chair", visitor="login", deciders="ok"),
            "/topics/{topic}/decline",
            form={"reason": "No budget this year."},
        )
    ],
    ("GET", "/communities/<slug>/categories"): [
        Call(
            cells("403:not_community_admin", visitor="login", admins="200"),
            "/communities/{slug}/categories",
        )
    ],
    ("POST", "/communities/<slug>/categories"): [
        Call(
            cells("403:not_community_admin", visitor="login", admins="ok"),
            "/communities/{slug}/categories",
            form={"name": "Safety"},
        )
    ],
    ("POST", "/communities/<slug>/categories/<int:category_id>"): [
        Call(
            cells("403:not_community_admin", visitor="login", admins="ok"),
            "/communities/{slug}/categories/{category}",
            form={"action": "rename", "name": "Green spaces"},
        )
    ],
    ("GET", "/notifications"): [Call(cells("200", visitor="login"), "/notifications")],
    ("POST", "/consultations/<int:consultation_id>/attendance"): [
        Call(
            cells(
                "ok", visitor="login", strangers="flash:not_invited", admins="flash:not_participant"
            ),
            "/consultations/{announced}/attendance",
            form={"answer": "yes"},
            label="invited",
        ),
        Call(
            cells("ok", visitor="login", outsider="flash:not_participant"),
            "/consultations/{open_announced}/attendance",
            form={"answer": "yes"},
            label="open",
        ),
    ],
    ("POST", "/consultations/<int:consultation_id>/written-opinion"): [
        Call(
            cells(
                "ok",
                visitor="login",
                strangers="flash:not_invited",
                observer="flash:observer_read_only",
                admins="flash:not_participant",
            ),
            "/consultations/{announced}/written-opinion",
            form={"text": "I support the plan."},
            label="invited",
        ),
        Call(
            cells(
                "ok",
                visitor="login",
                outsider="flash:not_participant",
                observer="flash:observer_read_only",
                site_admin="flash:not_participant",
            ),
            "/consultations/{open_announced}/written-opinion",
            form={"text": "I support the plan."},
            label="open: members (the site admin is a member of none)",
        ),
    ],
}


# --- Socket.IO events --------------------------------------------------------------------------


def _live(**data):
    return {"consultation_id": "{live}", **data}


def _open(**data):
    return {"consultation_id": "{open_live}", **data}


ROOM_READ = socket("ok", strangers="not_participant")
SPEAK = socket("ok", strangers="not_participant", observer="cannot_speak")
MODERATE = socket("not_chair", managers="ok")
READ = socket("ok", strangers="not_invited")
MOTION_SPEAK = socket("ok", strangers="not_invited", observer="no_speaking_rights")
CHAIR = socket("not_chair", strangers="not_invited", managers="ok")
PROPOSER_OR_CHAIR = socket("not_proposer", strangers="not_invited", voter="ok", managers="ok")

EVENTS: dict[str, list[Call]] = {
    "room:join": [
        Call(ROOM_READ, data=_live(), label="invited"),
        Call(socket("ok", outsider="not_participant"), data=_open(), label="open"),
    ],
    "room:leave": [Call(ROOM_READ, data=_live())],
    "message:send": [
        Call(SPEAK, data=_live(body="Hello.", client_id="matrix-1"), label="invited"),
        Call(
            socket("ok", outsider="not_participant", observer="cannot_speak"),
            data=_open(body="Hello.", client_id="matrix-1"),
            label="open",
        ),
    ],
    "message:hide": [Call(MODERATE, data=_live(message_id="{message}", reason="Off topic."))],
    "participant:mute": [Call(MODERATE, data=_live(username="sven"))],
    "participant:unmute": [Call(MODERATE, data=_live(username="sven"))],
    "floor:mode": [Call(MODERATE, data=_live(mode="moderated"))],
    "floor:give": [Call(MODERATE, data=_live(username="sven", seconds=120))],
    "floor:take": [Call(MODERATE, data=_live())],
    "hand:raise": [Call(SPEAK, data=_live(), label="the chair (or an admin) may too")],
    "hand:lower": [Call(SPEAK, data=_live())],
    "minority:record": [
        Call(socket("not_chair", recorders="ok"), data=_live(message_id="{message}"))
    ],
    "motions:list": [Call(READ, data=_live())],
    "motion:create": [Call(MOTION_SPEAK, data=_live(**MOTION))],
    "motion:edit": [
        Call(PROPOSER_OR_CHAIR, data={"motion_id": "{m_draft}", "text": "More trees."})
    ],
    "motion:submit": [Call(PROPOSER_OR_CHAIR, data={"motion_id": "{m_draft}"})],
    "motion:second": [
        Call(
            socket(
                "ok",
                strangers="not_invited",
                observer="no_speaking_rights",
                voter="cannot_second_own",
            ),
            data={"motion_id": "{m_submitted}"},
        )
    ],
    "motion:withdraw": [
        Call(
            socket("not_proposer", strangers="not_invited", voter="ok"),
            data={"motion_id": "{m_draft}", "reason": "Changed my mind."},
        )
    ],
    "motion:table": [Call(CHAIR, data={"motion_id": "{m_submitted}", "reason": "Later."})],
    "amendment:propose": [
        Call(MOTION_SPEAK, data={"motion_id": "{m_submitted}", "text": "Fruit trees."})
    ],
    "amendment:accept": [Call(CHAIR, data={"amendment_id": "{amendment}"})],
    "amendment:reject": [Call(CHAIR, data={"amendment_id": "{amendment}", "reason": "No."})],
    "vote:open": [
        Call(CHAIR, data={"motion_id": "{m_seconded}", **VOTE_SETTINGS}, label="a motion"),
        Call(
            CHAIR,
            data={
                "amendment_id": "{amendment}",
                **{k: v for k, v in VOTE_SETTINGS.items() if k != "kind"},
            },
            label="an amendment",
        ),
    ],
    "ballot:cast": [
        Call(
            socket("not_eligible", strangers="not_invited", voter="ok", chair="ok"),
            data={"vote_id": "{vote}", "choice": "no", "reason": "Too dear."},
        )
    ],
    "vote:close": [Call(CHAIR, data={"vote_id": "{vote}"})],
    "vote:get": [Call(READ, data={"vote_id": "{vote}"})],
}


def markdown() -> str:
    """The matrix as Markdown tables, for the documentation: ``python -m tests.authz_table``."""
    short = {"site_admin": "site admin", "admin": "community admin"}
    head = "| call | " + " | ".join(short.get(r, r) for r in ROLES) + " |"
    rule = "|---" * (len(ROLES) + 1) + "|"
    lines = ["## HTTP", "", head, rule]
    for (method, route), calls in sorted(ROUTES.items(), key=lambda item: item[0][::-1]):
        for call in calls:
            name = f"`{method} {route}`" + (f" ({call.label})" if call.label else "")
            lines.append(f"| {name} | " + " | ".join(call.expect[r] for r in ROLES) + " |")
    lines += ["", "## Socket.IO", "", head, rule]
    for event, calls in sorted(EVENTS.items()):
        for call in calls:
            name = f"`{event}`" + (f" ({call.label})" if call.label else "")
            lines.append(f"| {name} | " + " | ".join(call.expect[r] for r in ROLES) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
