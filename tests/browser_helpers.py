"""Helpers shared by the browser tests."""

import requests


def api(server, username):
    """``call(method, path, **kwargs)``: the live server's API as ``username``. Answers the
    JSON body (``None`` when empty); a status of 300 or more fails the test."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token(username)}"

    def call(method, path, **kwargs):
        response = session.request(method, server.url + "/api/v1" + path, timeout=15, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    return call
