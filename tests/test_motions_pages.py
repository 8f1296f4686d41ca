"""The motion page, the room's panel fragments, and the forms that work without JavaScript."""

import re

import pytest
import sqlalchemy as sa

from consult.extensions import db
from consult.motions.models import Ballot, Motion, SecretBallot, Vote

pytestmark = pytest.mark.usefixtures("english")


def count(model):
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def text_of(response):
    return response.get_data(as_text=True)


def flashes(client, path):
    page = text_of(client.get(path))
    return re.findall(r'<p class="flash flash-(\w+)" role="status">([^<]*)</p>', page)


def as_user(client, auth, name):
    auth.logout()
    assert auth.login(name).status_code == 302


def draft(client, auth, demo, title="Bicycle shed", text="Build a shed.\n\nBy the gate."):
    as_user(client, auth, "alice")
    response = client.post(
        f"/consultations/{demo.id}/motions/new", data={"title": title, "text": text}
    )
    assert response.status_code == 303
    motion_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return motion_id


def test_a_whole_motion_without_javascript(demo, client, auth):
    cid = demo.id
    mid = draft(client, auth, demo)
    back = {"next": f"/consultations/{cid}#motion-{mid}"}
    assert client.post(f"/motions/{mid}/edit", data={"title": "Bicycle shed",
                       "text": "Build a covered shed.\n\nBy the gate.", **back}).status_code == 303  # fmt: skip
    assert client.post(f"/motions/{mid}/submit", data=back).status_code == 303
    as_user(client, auth, "bob")
    response = client.post(f"/motions/{mid}/second", data=back)
    assert response.headers["Location"].endswith(f"/consultations/{cid}#motion-{mid}")
    assert db.session.get(Motion, mid).state == "seconded"
    # a resident cannot open the vote: the page says why
    client.post(f"/motions/{mid}/vote", data={"kind": "yes_no_abstain", "next": "/"})
    assert ("error", "Only the chair of this consultation may do this.") in flashes(client, "/")
    assert count(Vote) == 0
    as_user(client, auth, "chair")
    response = client.post(
        f"/motions/{mid}/vote",
        data={"kind": "yes_no_abstain", "threshold": "majority_cast", "quorum": "1/2",
              "results": "", "next": "/"},
    )  # fmt: skip
    assert response.status_code == 303
    vote = db.session.scalar(sa.select(Vote))
    assert (vote.threshold, vote.quorum, vote.secret, vote.results) == (
        "majority_cast", "1/2", False, "live"
    )  # fmt: skip
    for name, choice, reason in (("alice", "yes", ""), ("bob", "yes", ""),
                                 ("carol", "no", "Parking is short")):  # fmt: skip
        as_user(client, auth, name)
        response = client.post(
            f"/votes/{vote.id}/ballot", data={"choice": choice, "reason": reason, "next": "/"}
        )
        assert response.status_code == 303
        assert ("ok", "Your ballot is recorded.") in flashes(client, "/")
    client.post(f"/votes/{vote.id}/ballot", data={"choice": "maybe", "next": "/"})
    assert flashes(client, "/")[0][0] == "error"
    assert count(Ballot) == 3
    as_user(client, auth, "chair")
    client.post(f"/votes/{vote.id}/close", data={"next": "/"})
    page = text_of(client.get(f"/motions/{mid}"))
    assert "Result: Adopted" in page
    assert "Parking is short" in page and "陈卡罗 Carol" in page
    assert "Passes if yes is more than half of all ballots, abstentions included." in page
    assert '<svg class="bar"' in page and "data-count>2<" in page
    assert "Adopted" in page


def test_motion_page_shows_history_and_diff_to_visitors(demo, client, auth):
    mid = draft(client, auth, demo, text="小区南门外建设休闲广场。")
    client.post(
        f"/motions/{mid}/edit", data={"title": "Bicycle shed", "text": "小区南门外建设自行车棚。"}
    )
    auth.logout()
    page = text_of(client.get(f"/motions/{mid}?from=1&to=2"))
    assert 'id="diff"' in page
    assert re.search(r"<del><span class=\"visually-hidden\">removed: </span>休闲广场</del>", page)
    assert re.search(r"<ins><span class=\"visually-hidden\">added: </span>自行车棚</ins>", page)
    assert "Compare with revision 1" in page
    assert client.get(f"/motions/{mid}?from=1&to=9").status_code == 200  # says it has none
    assert client.get("/motions/999").status_code == 404


def test_secret_ballot_shows_the_receipt_once(demo, client, auth):
    mid = draft(client, auth, demo)
    client.post(f"/motions/{mid}/submit")
    as_user(client, auth, "bob")
    client.post(f"/motions/{mid}/second")
    as_user(client, auth, "chair")
    client.post(f"/motions/{mid}/vote", data={"kind": "yes_no_abstain", "secret": "y"})
    vote = db.session.scalar(sa.select(Vote))
    assert vote.secret and vote.results == "hidden"
    as_user(client, auth, "alice")
    response = client.post(f"/votes/{vote.id}/ballot", data={"choice": "no", "reason": "Cost"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    receipt = db.session.scalar(sa.select(SecretBallot.receipt))
    assert receipt in text_of(response)
    panel = text_of(client.get(f"/consultations/{demo.id}/motions/panel"))
    assert receipt not in panel
    assert "You have voted. A secret ballot cannot be changed." in panel
    assert "Results are hidden until the vote closes." in panel
    again = client.post(f"/votes/{vote.id}/ballot", data={"choice": "yes", "next": "/"})
    assert again.status_code == 303 and count(SecretBallot) == 1


def test_room_page_includes_the_panel_and_its_script(demo, client, auth):
    mid = draft(client, auth, demo)
    page = text_of(client.get(f"/consultations/{demo.id}"))
    assert 'id="motions-panel"' in page and f'id="motion-{mid}"' in page
    assert "js/motions.js" in page and "css/motions.css" in page
    card = client.get(f"/motions/{mid}/card")
    assert card.status_code == 200 and text_of(card).lstrip().startswith("<article")
    assert "Submit for seconding" in text_of(card)
    as_user(client, auth, "bob")
    card = text_of(client.get(f"/motions/{mid}/card"))
    assert "Submit for seconding" not in card and "Propose an amendment" in card


def test_amendment_forms(demo, client, auth):
    mid = draft(client, auth, demo, text="Build a shed.")
    as_user(client, auth, "carol")
    client.post(f"/motions/{mid}/amendments", data={"text": "Build two sheds."})
    as_user(client, auth, "chair")
    card = text_of(client.get(f"/motions/{mid}/card"))
    assert "Build two sheds." in card and "Reject the amendment" in card
    amendment_id = int(re.search(r'id="amendment-(\d+)"', card).group(1))
    client.post(f"/amendments/{amendment_id}/reject", data={"reason": ""})
    client.post(f"/amendments/{amendment_id}/accept")
    assert db.session.get(Motion, mid).text == "Build two sheds."
    assert client.post(f"/amendments/{amendment_id}/unknown").status_code == 404
