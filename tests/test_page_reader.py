"""What a signed-in page costs before its own content: the reader and their unread
notifications in one statement, and the session cookie sent again only when it changed."""

import re
import time

from tests.conftest import leave_unread, statements_run


def reads_reader_with_count(statement: str) -> bool:
    return re.search(r'FROM "?user"?\s', statement) is not None and "FROM notification" in statement


def unread_badge(page: str) -> str:
    badge = re.search(r'<a [^>]*id="nav-notifications"[^>]*data-unread="(\d+)"', page)
    assert badge is not None, page[:2000]
    return badge.group(1)


def test_a_signed_in_page_reads_its_reader_and_unread_count_in_one_statement(
    demo, client, auth, caching
):
    client.get("/notice", headers={"Accept-Language": "en"})  # a visitor's: the shared list
    auth.login("alice")
    leave_unread("alice", 2)
    with statements_run() as statements:
        page = client.get("/notice", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/logout" in html and "Alice" in html
    assert unread_badge(html) == "2" and "Notifications (2)" in re.sub(r"<[^>]+>", "", html)
    assert len(statements) == 1, "\n---\n".join(statements)
    assert reads_reader_with_count(statements[0])


def test_the_notifications_page_shows_the_count_after_it_marked_them_read(demo, client, auth):
    auth.login("alice")
    leave_unread("alice", 3)
    assert unread_badge(client.get("/").get_data(as_text=True)) == "3"
    page = client.get("/notifications", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Topic 2" in page
    assert unread_badge(page) == "0"  # read with the user, then marked read by this page
    assert unread_badge(client.get("/").get_data(as_text=True)) == "0"


def test_a_new_notification_shows_on_the_next_page(demo, client, auth):
    auth.login("alice")
    leave_unread("alice", 0)
    assert unread_badge(client.get("/").get_data(as_text=True)) == "0"
    leave_unread("alice", 1)
    assert unread_badge(client.get("/").get_data(as_text=True)) == "1"


def test_static_files_and_the_api_read_no_reader_before_they_start(demo, client, auth):
    auth.login("alice")
    with statements_run() as statements:
        assert client.get("/static/css/site.css").status_code == 200
    assert statements == []
    with statements_run() as statements:
        answer = client.get("/api/v1/notifications")
    assert answer.status_code == 200
    assert not any(reads_reader_with_count(s) for s in statements), statements


def test_the_session_cookie_is_sent_again_only_when_the_session_changes(demo, client, auth):
    auth.login("alice")
    client.get("/")
    page = client.get("/")
    assert "/logout" in page.get_data(as_text=True)
    assert page.headers.get("Set-Cookie") is None
    # A minute on, the page notes the reader was seen, and the cookie goes out with it.
    with client.session_transaction() as session:
        session["_seen"] = int(time.time()) - 61
    page = client.get("/")
    assert "/logout" in page.get_data(as_text=True)
    assert "session=" in page.headers.get("Set-Cookie", "")
    with client.session_transaction() as session:
        assert session["_seen"] >= int(time.time()) - 5
    assert client.get("/").headers.get("Set-Cookie") is None
