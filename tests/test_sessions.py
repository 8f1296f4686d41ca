"""Browser sessions end after an idle period and after an absolute lifetime."""

import time

import pytest


def _signed_in(client) -> bool:
    return "/logout" in client.get("/").get_data(as_text=True)


def test_active_session_stays_signed_in(demo, client, auth):
    auth.login("alice")
    assert _signed_in(client)
    with client.session_transaction() as session:
        assert session["_started"] <= time.time()


@pytest.mark.parametrize(
    ("key", "age"),
    [("_seen", 2 * 3600 + 5), ("_started", 12 * 3600 + 5)],
    ids=["idle", "absolute"],
)
def test_session_times_out(demo, client, auth, key, age):
    auth.login("alice")
    assert _signed_in(client)
    with client.session_transaction() as session:
        session[key] = int(time.time()) - age
        if key == "_started":
            session["_seen"] = int(time.time())
    page = client.get("/").get_data(as_text=True)
    assert "/logout" not in page
    assert not _signed_in(client)
