"""The chair's pages and the residents' forms, without JavaScript: draft, preview, publish,
correct, object, answer, report progress, complete, rate."""

from __future__ import annotations

import sqlalchemy as sa

from consult.extensions import db
from consult.outcomes.models import Objection, Outcome, OutcomeVersion, ProgressReport, Rating
from tests.conftest import statements_run

from .test_outcomes_support import FLOOR_NOTE, NO_REASON, close_room, hold_votes

EN = {"Accept-Language": "en"}


def html(response) -> str:
    return response.get_data(as_text=True)


def the_outcome() -> Outcome:
    return db.session.scalar(sa.select(Outcome))


def test_chair_drafts_previews_and_publishes(demo, client, auth):
    hold_votes(demo)
    auth.login("alice")
    assert client.get(f"/consultations/{demo.id}/outcome").status_code == 403
    auth.logout()
    auth.login("chair")
    page = client.get(f"/consultations/{demo.id}/outcome", headers=EN)
    assert page.status_code == 200
    assert demo.title in html(page)  # the title is proposed
    response = client.post(
        f"/consultations/{demo.id}/outcome",
        data={
            "title": demo.title,
            "summary": "建**车棚**。",
            "responsible": "物业公司",
            "due": "2030-06-30",
            "notice_days": "5",
            "category": "环境",
            "minority_opinion": "主任补充：有居民担心费用。",
        },
        headers=EN,
    )
    assert response.status_code == 302
    preview = html(client.get(f"/consultations/{demo.id}/outcome", headers=EN))
    assert "Preview" in preview and "<strong>车棚</strong>" in preview
    assert NO_REASON in preview and FLOOR_NOTE in preview and "主任补充" in preview
    assert "<svg" in preview
    outcome = the_outcome()
    assert outcome.status == "draft" and outcome.notice_days == 5

    # A bad due date is refused on the page, nothing changes.
    response = client.post(
        f"/consultations/{demo.id}/outcome", data={"summary": "x", "due": "tomorrow"}, headers=EN
    )
    assert response.status_code == 422
    assert "The due date is a date" in html(response)
    db.session.refresh(outcome)
    assert outcome.summary == "建**车棚**。"

    response = client.post(f"/outcomes/{outcome.id}/publish", headers=EN)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/notice/{outcome.id}")
    db.session.refresh(outcome)
    assert outcome.status == "published"
    # The draft page now leads to the published outcome.
    assert client.get(f"/consultations/{demo.id}/outcome").status_code == 302


def test_residents_and_chair_on_the_notice_page(demo, client, auth):
    close_room(demo)
    auth.login("chair")
    client.post(f"/consultations/{demo.id}/outcome", data={"summary": "Shed.", "notice_days": "7"})
    outcome = the_outcome()
    client.post(f"/outcomes/{outcome.id}/publish")
    auth.logout()

    auth.login("alice")
    page = html(client.get(f"/notice/{outcome.id}", headers=EN))
    assert 'name="reason"' in page and "File the objection" in page
    response = client.post(f"/notice/{outcome.id}/objections", data={"reason": "挡路 In the way"})
    assert response.status_code == 302
    response = client.post(
        f"/notice/{outcome.id}/objections", data={"reason": ""}, follow_redirects=True
    )
    assert "reason" in html(response).lower()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Objection)) == 1
    objection = db.session.scalar(sa.select(Objection))
    # A resident gets no answer form and cannot answer.
    assert f"/notice/objections/{objection.id}/answer" not in html(
        client.get(f"/notice/{outcome.id}")
    )
    client.post(f"/notice/objections/{objection.id}/answer", data={"answer": "me"})
    db.session.refresh(objection)
    assert objection.answer is None
    auth.logout()

    auth.login("chair")
    client.post(f"/notice/objections/{objection.id}/answer", data={"answer": "已调整 Adjusted"})
    client.post(f"/notice/{outcome.id}/progress", data={"percent": "60", "note": "半完工 Half"})
    response = client.post(
        f"/notice/{outcome.id}/progress", data={"percent": "160"}, follow_redirects=True, headers=EN
    )
    assert "from 0 to 100" in html(response)
    client.post(f"/notice/{outcome.id}/complete")
    auth.logout()

    auth.login("bob")
    response = client.post(
        f"/notice/{outcome.id}/ratings", data={"stars": "5", "comment": "好 Good"}
    )
    assert response.status_code == 302
    response = client.post(
        f"/notice/{outcome.id}/ratings", data={"stars": "1"}, follow_redirects=True, headers=EN
    )
    assert "already rated" in html(response)
    auth.logout()

    page = html(client.get(f"/notice/{outcome.id}", headers=EN))
    assert "挡路 In the way" in page and "已调整 Adjusted" in page
    assert "半完工 Half" in page and "60%" in page
    assert "Average 5.0 of 5 from 1 ratings." in page
    assert "好 Good" in page
    assert page.count("<svg") >= 2  # progress and ratings charts
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1


def test_correction_form(demo, client, auth):
    close_room(demo)
    auth.login("chair")
    client.post(f"/consultations/{demo.id}/outcome", data={"summary": "First wording."})
    outcome = the_outcome()
    client.post(f"/outcomes/{outcome.id}/publish")
    form = client.get(f"/notice/{outcome.id}/correct", headers=EN)
    assert form.status_code == 200 and "First wording." in html(form)
    response = client.post(
        f"/notice/{outcome.id}/correct", data={"summary": "Second wording."}, headers=EN
    )
    assert response.status_code == 422 and "Say what the correction corrects" in html(response)
    response = client.post(
        f"/notice/{outcome.id}/correct",
        data={
            "summary": "Second wording.",
            "reason": "Typo",
            "title": outcome.title,
            "notice_days": "7",
        },
    )
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutcomeVersion)) == 2
    assert "First wording." in html(client.get(f"/notice/{outcome.id}/v/1"))
    assert "Second wording." in html(client.get(f"/notice/{outcome.id}"))
    auth.logout()
    auth.login("alice")
    assert client.get(f"/notice/{outcome.id}/correct").status_code == 403


def test_consultation_panel_links_to_minutes_and_outcome(demo, client, auth, app):
    """The fragment the consultation page includes once the room has closed."""
    from flask import render_template_string

    template = '{% include "outcomes/_consultation_panel.html" %}'

    def panel() -> str:
        with app.test_request_context("/", headers=EN):
            from flask_login import login_user

            from .test_outcomes_support import user

            if who:
                login_user(user(who))
            return render_template_string(template, consultation=demo)

    who = "chair"
    assert panel().strip() == ""  # still live: nothing yet
    close_room(demo)
    html_chair = panel()
    assert f"/consultations/{demo.id}/minutes" in html_chair
    assert f"/consultations/{demo.id}/outcome" in html_chair
    who = "alice"
    assert f"/consultations/{demo.id}/outcome" not in panel()
    auth.login("chair")
    client.post(f"/consultations/{demo.id}/outcome", data={"summary": "Done."})
    client.post(f"/outcomes/{the_outcome().id}/publish")
    who = None
    visitor = panel()
    assert (
        f"/notice/{the_outcome().id}" in visitor and f"/consultations/{demo.id}/minutes" in visitor
    )


def test_the_notice_page_reads_progress_and_ratings_once(demo, client, auth):
    """The latest percentage, the ratings' summary and the reader's own rating come from the
    progress reports and ratings the page lists, not from queries of their own."""
    close_room(demo)
    auth.login("chair")
    client.post(f"/consultations/{demo.id}/outcome", data={"summary": "Shed.", "notice_days": "7"})
    outcome = the_outcome()
    client.post(f"/outcomes/{outcome.id}/publish")
    client.post(f"/notice/{outcome.id}/progress", data={"percent": "20", "note": "开工 Begun"})
    client.post(f"/notice/{outcome.id}/progress", data={"percent": "60", "note": "半完工 Half"})
    client.post(f"/notice/{outcome.id}/complete")
    auth.logout()
    for name, stars, comment in (("bob", "5", "好 Good"), ("carol", "2", "")):
        auth.login(name)
        client.post(f"/notice/{outcome.id}/ratings", data={"stars": stars, "comment": comment})
        auth.logout()

    def page(who: str | None) -> tuple[str, list[str]]:
        if who:
            auth.login(who)
        with statements_run() as statements:
            body = html(client.get(f"/notice/{outcome.id}", headers=EN))
        if who:
            auth.logout()
        return body, statements

    for who, mine in (("bob", "You rated it 5 of 5."), ("carol", "You rated it 2 of 5."),
                      ("alice", None), (None, None)):  # fmt: skip
        body, statements = page(who)
        assert "Latest report: 60% done." in body
        assert "Average 3.5 of 5 from 2 ratings." in body
        assert "好 Good" in body
        if mine:
            assert mine in body
        else:
            assert "You rated it" not in body
        assert sum("FROM outcome_rating" in s for s in statements) == 1, statements
        assert sum("FROM outcome_progress" in s for s in statements) == 1, statements


def test_the_notice_page_reads_the_outcome_and_the_readers_place_in_one_statement(
    demo, client, auth, make_user
):
    """Its consultation, its community, and whether the reader manages it or is a member
    come with the outcome, not from a statement each; the versions are read once."""
    close_room(demo)
    make_user("outsider")
    auth.login("chair")
    client.post(f"/consultations/{demo.id}/outcome", data={"summary": "Shed.", "notice_days": "7"})
    outcome = the_outcome()
    outcome_id = outcome.id
    client.post(f"/outcomes/{outcome_id}/publish")
    auth.logout()

    def first_table(statement: str) -> str:
        return " ".join(statement.split()).split(" FROM ", 1)[1].split()[0].strip('"')

    for who, password, shown, hidden in (
        ("chair", "yiting-demo", "Publish a correction", "Sign in to object"),
        ("alice", "yiting-demo", "File the objection", "Publish a correction"),
        ("outsider", "password-123", "Only members of", "File the objection"),
        (None, None, "Sign in to object", "File the objection"),
    ):
        if who:
            auth.login(who, password)
        db.session.remove()  # as a server's request starts: nothing read yet
        with statements_run() as statements:
            body = html(client.get(f"/notice/{outcome_id}", headers=EN))
        if who:
            auth.logout()
        assert shown in body and hidden not in body, who
        tables = [first_table(s) for s in statements if s.lstrip().startswith("SELECT")]
        # The reader's statement (with their unread count) names the notifications first.
        assert sorted(set(tables) - {"user", "notification"}) == [
            "outcome",
            "outcome_objection",
            "outcome_progress",
            "outcome_rating",
            "outcome_version",
        ], (who, statements)
        assert len(tables) == len(set(tables)), (who, tables)
