"""A short-lived cache for public pages and the public part of pages.

The notice board is the page most people open, most of them without an account. Its
rendered HTML is kept for a few seconds per address, language and text size, and dropped at
once in this process when an outcome changes; other processes serve a page at most
``PUBLIC_PAGE_CACHE_SECONDS`` old. Anyone with a session cookie (signed in, or carrying a
flashed message) gets a page rendered for them (:func:`public_page`); the part of it that
is the same for every reader — the notice board's list — is kept the same way and shared by
visitors and signed-in readers alike (:func:`shared_html`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import wraps

from flask import current_app, make_response, request, session
from flask_babel import get_locale, get_timezone
from markupsafe import Markup

from . import notify

_entries: dict[tuple, tuple[float, object]] = {}
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


def _ttl() -> int:
    return current_app.config.get("PUBLIC_PAGE_CACHE_SECONDS", 5)


def _kept(key: tuple):
    """The value kept under ``key`` if it has not expired, else ``None``."""
    with _lock:
        hit = _entries.get(key)
    return hit[1] if hit and hit[0] > time.monotonic() else None


def _keep(key: tuple, value, ttl: int) -> None:
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[key] = (time.monotonic() + ttl, value)


def shared_html(template: str, context: Callable[[], dict]) -> Markup:
    """``template`` rendered with ``context()`` for this address, language and time zone,
    kept and shared by every reader for a few seconds. It is rendered without the request's
    context processors, so it cannot show who is asking: naming ``current_user`` in it is
    an error."""
    ttl = _ttl()
    key = ("html", template, request.full_path, str(get_locale()), str(get_timezone()))
    html = _kept(key) if ttl else None
    if html is None:
        rendered = current_app.jinja_env.get_template(template).render(context())
        html = Markup(rendered)  # noqa: S704 — a template's output, escaped by Jinja
        if ttl:
            _keep(key, html, ttl)
    return html


def public_page(view):
    """Cache the view's answer for visitors (GET, no session) for a few seconds."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        ttl = _ttl()
        if not ttl or not _cacheable_request():
            return view(*args, **kwargs)
        key = ("page", request.full_path, str(get_locale()), request.cookies.get("text"))
        hit = _kept(key)
        if hit:
            response = current_app.response_class(hit[0], status=200, headers=hit[1])
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
            _keep(key, (response.get_data(), headers), ttl)
        return response

    return wrapped
