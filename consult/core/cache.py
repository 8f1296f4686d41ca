"""A short-lived cache for public pages seen by visitors who are not signed in.

The notice board is the page most people open, most of them without an account. Its
rendered HTML is kept for a few seconds per address, language and text size, and dropped at
once in this process when an outcome changes; other processes serve a page at most
``PUBLIC_PAGE_CACHE_SECONDS`` old. Anyone with a session cookie (signed in, or carrying a
flashed message) always gets a fresh page.
"""

from __future__ import annotations

import threading
import time
from functools import wraps

from flask import current_app, make_response, request, session
from flask_babel import get_locale

from . import notify

_entries: dict[tuple, tuple[float, bytes, int, list]] = {}
_lock = threading.Lock()
MAX_ENTRIES = 2000
INVALIDATING_EVENTS = {"outcome:published", "outcome:updated"}


def clear() -> None:
    with _lock:
        _entries.clear()


def _on_announce(event: str, payload: dict, room: str | None) -> None:
    if event in INVALIDATING_EVENTS:
        clear()


notify.add_listener(_on_announce)


def _cacheable_request() -> bool:
    return (
        request.method == "GET"
        and current_app.config.get("SESSION_COOKIE_NAME", "session") not in request.cookies
        and "Authorization" not in request.headers
    )


def public_page(view):
    """Cache the view's answer for visitors (GET, no session) for a few seconds."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        ttl = current_app.config.get("PUBLIC_PAGE_CACHE_SECONDS", 5)
        if not ttl or not _cacheable_request():
            return view(*args, **kwargs)
        key = (request.full_path, str(get_locale()), request.cookies.get("text"))
        now = time.monotonic()
        with _lock:
            hit = _entries.get(key)
        if hit and hit[0] > now:
            response = current_app.response_class(hit[1], status=hit[2], headers=hit[3])
            response.headers["X-Cache"] = "hit"
            return response
        response = make_response(view(*args, **kwargs))
        response.vary.update(("Accept-Language", "Cookie"))
        if (
            response.status_code == 200
            and not session.modified
            and "Set-Cookie" not in response.headers
        ):
            headers = [(k, v) for k, v in response.headers.items() if k != "Content-Length"]
            with _lock:
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[key] = (now + ttl, response.get_data(), 200, headers)
        return response

    return wrapped
