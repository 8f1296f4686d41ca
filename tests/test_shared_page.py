"""A page the same for every reader but for who is reading (the notice board): rendered once,
shared, and each reader's own parts (their name, notifications, flashed messages, CSRF
token) rendered into it. On PostgreSQL the reader is read in autocommit."""

import re

import pytest
from jinja2 import ChoiceLoader, DictLoader

from consult.accounts.service import find_user
from consult.core import cache
from consult.extensions import db
from tests.conftest import leave_unread, statements_run

EN = {"Accept-Language": "en"}


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def without_tokens(html: str) -> str:
    """The page with its CSRF tokens blanked: a token is signed with the second it was made."""
    return re.sub(r'(csrf[-_]token"? (?:content|value)=)"[^"]+"', r'\1""', html)


def csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'csrf[-_]token"? (?:content|value)="([^"]+)"', html))


@pytest.fixture
def shared_renders(monkeypatch):
    """How many times a shared page was rendered for nobody in particular."""
    renders = []
    render = cache._render_shared

    def counted(template, context):
        renders.append(template)
        return render(template, context)

    monkeypatch.setattr(cache, "_render_shared", counted)
    return renders


def test_the_shared_copy_with_the_readers_parts_is_the_page_rendered_whole_for_them(
    app, demo, client, auth
):
    auth.login("alice")
    leave_unread("alice", 2)
    whole = client.get("/notice?q=路灯", headers=EN).get_data(as_text=True)
    assert "王爱丽 Alice" in whole and "Notifications (2)" in text_of(whole)

    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 60
    cache.clear()
    first = client.get("/notice?q=路灯", headers=EN)  # renders the shared copy
    again = client.get("/notice?q=路灯", headers=EN)  # from it
    cache.clear()
    assert first.status_code == again.status_code == 200
    for page in (first, again):
        html = page.get_data(as_text=True)
        assert without_tokens(html) == without_tokens(whole)
        assert len(csrf_tokens(html)) == 1  # the meta tag's and the sign-out form's


def test_each_reader_of_a_shared_page_sees_their_own_name_and_count(
    app, demo, client, auth, caching, shared_renders
):
    leave_unread("alice", 2)
    leave_unread("bob", 0)
    visitor = app.test_client()
    assert "Sign in" in text_of(visitor.get("/notice", headers=EN).get_data(as_text=True))

    auth.login("alice")
    alice = text_of(client.get("/notice", headers=EN).get_data(as_text=True))
    auth.logout()
    auth.login("bob")
    bob = text_of(client.get("/notice", headers=EN).get_data(as_text=True))
    auth.logout()
    stranger = text_of(app.test_client().get("/notice?x", headers=EN).get_data(as_text=True))

    assert "王爱丽 Alice" in alice and "Notifications (2)" in alice and "Sign out" in alice
    assert "李博 Bob" in bob and "Notifications" in bob and "Notifications (" not in bob
    assert "Alice" not in bob and "Sign in" not in bob
    assert "Sign in" in stranger and "Register" in stranger
    assert "Alice" not in stranger and "Bob" not in stranger and "Sign out" not in stranger
    # The visitor's page was kept whole; the shared copy was rendered for Alice, then used
    # for Bob; "/notice?x" is another address.
    assert shared_renders == ["notice/index.html", "notice/index.html"]


def test_the_sign_out_form_of_a_shared_page_signs_its_reader_out(app, demo, client, auth, caching):
    client.get("/notice", headers=EN)
    auth.login("alice")
    app.config["WTF_CSRF_ENABLED"] = True
    client.get("/notice", headers=EN)  # the shared copy, rendered
    page = client.get("/notice", headers=EN).get_data(as_text=True)  # from it
    (token,) = csrf_tokens(page)
    assert client.post("/logout", data={"csrf_token": "not-it"}).status_code == 400
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert "Sign in" in text_of(client.get("/notice", headers=EN).get_data(as_text=True))


def test_a_flashed_message_shows_once_and_only_to_its_reader(app, demo, client, auth, caching):
    auth.login("alice")
    client.get("/notice", headers=EN)
    with client.session_transaction() as session:
        session["_flashes"] = [("ok", "Your rating is saved.")]
    shown = client.get("/notice", headers=EN).get_data(as_text=True)
    assert '<p class="flash flash-ok" role="status">Your rating is saved.</p>' in shown
    assert "Your rating is saved." not in client.get("/notice", headers=EN).get_data(as_text=True)
    other = app.test_client()
    other.post("/login", data={"username": "bob", "password": "yiting-demo"})
    assert "Your rating is saved." not in other.get("/notice", headers=EN).get_data(as_text=True)


@pytest.fixture
def page_templates(app):
    templates = {
        "asks-who.html": '{% extends "base.html" %}{% block content %}'
        "<p id=who>{{ current_user.is_authenticated }} {{ unread_notifications() }}</p>"
        "{% endblock %}",
        "shows-token.html": '{% extends "base.html" %}{% block content %}'
        "{{ csrf_token() }}{% endblock %}",
        "shows-flashes.html": '{% extends "base.html" %}{% block content %}'
        "{{ get_flashed_messages() }}{% endblock %}",
    }
    loader = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader([DictLoader(templates), loader])
    yield
    app.jinja_env.loader = loader


def test_a_shared_page_cannot_name_its_reader_outside_their_own_parts(
    app, demo, caching, page_templates
):
    from flask_login import current_user, login_user

    leave_unread("alice", 1)
    with app.test_request_context("/somewhere", headers=EN):
        login_user(find_user("alice"))
        page = cache.shared_page("asks-who.html", dict)
        assert "<p id=who>False 0</p>" in page  # the shared part: nobody's
        assert "王爱丽 Alice" in page and "Notifications (1)" in text_of(page)  # theirs
        assert current_user.is_authenticated  # and the request's reader is theirs again
        for template in ("shows-token.html", "shows-flashes.html"):
            with pytest.raises(RuntimeError, match="_personal.html"):
                cache.shared_page(template, dict)


def test_a_signed_in_page_on_postgresql_reads_its_reader_alone_in_autocommit(pg_app):
    """The reader's statement runs in autocommit (no BEGIN before it, no ROLLBACK after);
    the page's own statements then run in a transaction, and its writes are kept."""
    from psycopg.pq import TransactionStatus

    pg_app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 60
    cache.clear()
    client = pg_app.test_client()
    client.post("/login", data={"username": "alice", "password": "yiting-demo"})
    leave_unread("alice", 2)

    def how(connection, statement):
        raw = connection.connection.driver_connection
        idle = raw.info.transaction_status == TransactionStatus.IDLE
        return statement.split()[0], "autocommit" if raw.autocommit and idle else "transaction"

    client.get("/notice", headers=EN)
    # The requests share the test's application context and so its session: end its
    # transaction, as the end of a request does where each has its own.
    db.session.remove()
    with statements_run(how) as notice:
        page = client.get("/notice", headers=EN).get_data(as_text=True)
    assert "Notifications (2)" in text_of(page)
    assert notice == [("SELECT", "autocommit")]

    db.session.remove()
    with statements_run(how) as marking:
        page = client.get("/notifications", headers=EN).get_data(as_text=True)
    assert "Topic 1" in page
    assert marking[0] == ("SELECT", "autocommit")
    assert ("UPDATE", "transaction") in marking
    assert all(mode == "transaction" for _, mode in marking[1:]), marking
    assert "Notifications (" not in text_of(
        client.get("/notice", headers=EN).get_data(as_text=True)
    )
    cache.clear()


def test_eight_units_of_work_at_once_on_postgresql_open_no_connection_the_second_time(pg_app):
    """The pool keeps ten connections: eight units of work at once (pages, events) take
    pooled connections the second time, where SQLAlchemy's five had three opened and
    closed each time."""
    import sqlalchemy as sa

    db.session.remove()
    db.engine.dispose()
    opened = []

    def count(*args):
        opened.append(1)

    def eight_at_once() -> int:
        opened.clear()
        held = [db.engine.connect() for _ in range(8)]
        for connection in held:
            connection.close()
        return len(opened)

    sa.event.listen(db.engine, "connect", count)
    try:
        assert eight_at_once() == 8
        assert eight_at_once() == 0
    finally:
        sa.event.remove(db.engine, "connect", count)
