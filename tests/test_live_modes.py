"""The server started the way ``make run`` starts it (migrate, demo, ``python app.py``), in
each async mode: the home page, the served Socket.IO client, and a real websocket connection
that needs a token and the site's own origin."""

from __future__ import annotations

import pytest
import requests
import socketio

pytestmark = pytest.mark.live


def connect(url: str, origin: str | None = None, **kwargs) -> socketio.Client:
    """A websocket-only client. ``origin`` replaces the Origin header the websocket client
    sends by itself (an ``Origin`` in ``headers`` would be sent as a second header)."""
    options = {"origin": origin} if origin else {}
    client = socketio.Client(reconnection=False, websocket_extra_options=options)
    client.connect(url, transports=["websocket"], wait_timeout=10, **kwargs)
    return client


def test_home_page_demo_and_browser_client(live_server):
    response = requests.get(live_server.url + "/", timeout=10)
    assert response.status_code == 200
    assert '<html lang="zh-Hans"' in response.text
    assert "议厅" in response.text
    assert "Content-Security-Policy" in response.headers
    response = requests.get(
        live_server.url + "/login", headers={"Accept-Language": "en"}, timeout=10
    )
    assert response.status_code == 200
    assert '<html lang="en"' in response.text
    assert "yiting-demo" in response.text  # the demo notice
    body = requests.get(live_server.url + "/api/v1/communities/demo/consultations", timeout=10)
    assert [c["status"] for c in body.json()["consultations"]] == ["live"]
    script = requests.get(live_server.url + "/vendor/socket.io.esm.min.js", timeout=10)
    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]
    assert "export" in script.text


def test_socket_needs_a_valid_token_and_the_site_origin(live_server):
    token = live_server.token("alice")
    client = connect(live_server.url, auth={"token": token})
    try:
        assert client.connected
        assert client.transport() == "websocket"
    finally:
        client.disconnect()
    # Without a token, or with a bad one, the connection is refused.
    for auth in (None, {"token": "forged"}, {"token": ""}, {"other": 1}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            connect(live_server.url, auth=auth)
    # A page on another site may not connect, even with a good token.
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(live_server.url, auth={"token": token}, origin="http://evil.example")
    response = requests.get(
        live_server.url + "/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers={"Origin": "http://evil.example"},
        timeout=10,
    )
    assert response.status_code == 400
    # The site's own origin is welcome.
    client = connect(live_server.url, auth={"token": token}, origin=live_server.url)
    assert client.connected
    client.disconnect()
