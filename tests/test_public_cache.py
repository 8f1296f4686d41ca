"""Visitors' copies of the notice board are reused briefly and dropped when an outcome
changes; signed-in people always get a page rendered for them, around a list of outcomes
that is shared by every reader in the same way."""

import pytest

from consult.accounts.service import find_user
from consult.consultations import service as consultations
from consult.core import cache
from consult.outcomes import service as outcomes
from tests.conftest import statements_run


def publish(demo, summary):
    chair = find_user("chair")
    consultations.transition(chair, demo, "closed")
    outcome = outcomes.draft_outcome(chair, demo, summary=summary)
    outcomes.publish_outcome(chair, outcome)
    return outcome


def test_visitors_share_a_page_until_an_outcome_changes(demo, client, caching):
    first = client.get("/notice", headers={"Accept-Language": "en"})
    assert first.status_code == 200 and "X-Cache" not in first.headers
    assert "Set-Cookie" not in first.headers
    again = client.get("/notice", headers={"Accept-Language": "en"})
    assert again.headers.get("X-Cache") == "hit"
    assert again.get_data() == first.get_data()
    # Another language is another page.
    chinese = client.get("/notice", headers={"Accept-Language": "zh-CN"})
    assert "X-Cache" not in chinese.headers and 'lang="zh-Hans"' in chinese.get_data(as_text=True)

    publish(demo, "The lot becomes a bicycle shed.")
    fresh = client.get("/notice", headers={"Accept-Language": "en"})
    assert "X-Cache" not in fresh.headers
    assert "南门空地" in fresh.get_data(as_text=True)


def test_signed_in_people_always_get_a_fresh_page(demo, client, auth, caching):
    client.get("/notice")
    auth.login("alice")
    for _ in range(2):
        page = client.get("/notice")
        assert "X-Cache" not in page.headers
        assert "/logout" in page.get_data(as_text=True)


def outcome_queries(client, path="/notice"):
    with statements_run() as statements:
        page = client.get(path, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    return page.get_data(as_text=True), [s for s in statements if "FROM outcome" in s]


def test_signed_in_readers_share_the_list_but_not_the_header(demo, client, auth, caching):
    visitor, queries = outcome_queries(client)
    assert queries and "/logout" not in visitor
    auth.login("alice")
    mine, queries = outcome_queries(client)
    assert queries == []  # the list the visitor's request made
    assert "/logout" in mine and "Alice" in mine
    board = visitor[visitor.index("<h1>") : visitor.index("</main>")]
    assert board in mine
    # Another search or another language is another list.
    _, queries = outcome_queries(client, "/notice?q=shed")
    assert queries
    chinese = client.get("/notice", headers={"Accept-Language": "zh-CN"})
    assert "<h1>公示栏</h1>" in chinese.get_data(as_text=True)

    publish(demo, "The lot becomes a bicycle shed.")
    fresh, queries = outcome_queries(client)
    assert queries and "南门空地" in fresh and "南门空地" not in mine
    again, queries = outcome_queries(client, "/notice?q=shed")
    assert queries and "南门空地" in again


def test_a_shared_template_cannot_show_who_is_asking(app, demo, caching):
    from flask import render_template_string, request
    from flask_login import login_user
    from jinja2 import ChoiceLoader, DictLoader, UndefinedError

    who = "[{{ current_user.display_name }}]{{ n }}"
    loader = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader([DictLoader({"who.html": who}), loader])
    try:
        with app.test_request_context("/notice?n=1"):
            login_user(find_user("alice"))
            assert render_template_string(who, n=1) == "[王爱丽 Alice]1"  # a page's own
            with pytest.raises(UndefinedError, match="current_user"):
                cache.shared_html("who.html", lambda: {"n": request.args["n"]})
    finally:
        app.jinja_env.loader = loader


def test_the_shared_list_is_not_kept_without_a_cache_time(app, demo, client, auth):
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0
    auth.login("alice")
    for _ in range(2):
        _, queries = outcome_queries(client)
        assert queries


def test_an_outcome_page_is_shared_by_visitors_too(app, demo, client, caching):
    """A visitor's outcome page carries no form, so no CSRF token and no session cookie:
    it is cached like the list (it was rendered afresh for every visitor)."""
    app.config["WTF_CSRF_ENABLED"] = True
    outcome = publish(demo, "The lot becomes a bicycle shed.")
    first = client.get(f"/notice/{outcome.id}", headers={"Accept-Language": "en"})
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    assert "Sign in to object" in first.get_data(as_text=True)
    again = client.get(f"/notice/{outcome.id}", headers={"Accept-Language": "en"})
    assert again.headers.get("X-Cache") == "hit" and again.get_data() == first.get_data()


def test_the_cache_time_is_a_setting(monkeypatch):
    from consult import config

    monkeypatch.delenv("PUBLIC_PAGE_CACHE_SECONDS", raising=False)
    assert config.from_environment()["PUBLIC_PAGE_CACHE_SECONDS"] == 5
    monkeypatch.setenv("PUBLIC_PAGE_CACHE_SECONDS", "0")
    assert config.from_environment()["PUBLIC_PAGE_CACHE_SECONDS"] == 0


def test_readers_of_an_outcome_share_its_record_and_keep_their_own_parts(
    app, demo, client, auth, caching, monkeypatch
):
    """A version's record (what its fingerprint covers) is the same for every reader: it is
    rendered once and shared; the objections, forms and rating around it are each reader's."""
    outcome = publish(demo, "The lot becomes a bicycle shed.")
    path = f"/notice/{outcome.id}"
    rendered = []
    markdown = app.jinja_env.filters["markdown"]
    monkeypatch.setitem(
        app.jinja_env.filters, "markdown", lambda text: rendered.append(text) or markdown(text)
    )

    def read():
        rendered.clear()
        page = client.get(path, headers={"Accept-Language": "en"})
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        start = html.index('<dl class="facts record-facts">')
        return html, html[start : html.index('<section aria-labelledby="fingerprint-h"')]

    visitor, record = read()
    assert rendered == ["The lot becomes a bicycle shed."]  # the record's summary
    assert "Sign in to object" in visitor
    auth.login("alice")
    mine, my_record = read()
    assert rendered == []  # the visitor's record, not rendered again
    assert my_record == record
    assert "Sign in to object" not in mine and f'action="{path}/objections"' in mine

    outcomes.correct_outcome(
        find_user("chair"), outcome, "A typo in the summary.", summary="The lot becomes a shed."
    )
    _, new_record = read()
    assert rendered == ["The lot becomes a shed."]
    assert "The lot becomes a shed." in new_record and new_record != record
    # An earlier version's address shows that version's record.
    rendered.clear()
    first = client.get(f"{path}/v/1", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "The lot becomes a bicycle shed." in first
