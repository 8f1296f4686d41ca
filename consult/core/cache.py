"""A short-lived cache for public pages and the public part of pages.

The notice board is the page most people open, most of them without an account. Its
rendered HTML is kept for a few seconds per address, language and text size, and dropped at
once in this process when an outcome changes; other processes serve a page at most
``PUBLIC_PAGE_CACHE_SECONDS`` old. Anyone with a session cookie (signed in, or carrying a
flashed message) gets a page rendered for them (:func:`public_page`); the part of it that
is the same for every reader — the notice board's list, an outcome's record — is kept the
same way and shared by visitors and signed-in readers alike (:func:`shared_html`), and so is
the board's page around its list, but for the parts that show who is reading
(:func:`shared_page`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from functools import wraps

from flask import current_app, g, make_response, render_template, request, session
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


def _for_anyone_here(template: str) -> tuple:
    """What a shared rendering of ``template`` is kept under: this address, language and
    time zone."""
    return (template, request.full_path, str(get_locale()), str(get_timezone()))


def shared_html(template: str, context: Callable[[], dict]) -> Markup:
    """``template`` rendered with ``context()`` for this address, language and time zone,
    kept and shared by every reader for a few seconds. It is rendered without the request's
    context processors, so it cannot show who is asking: naming ``current_user`` in it is
    an error."""
    ttl = _ttl()
    key = ("html", *_for_anyone_here(template))
    html = _kept(key) if ttl else None
    if html is None:
        rendered = current_app.jinja_env.get_template(template).render(context())
        html = Markup(rendered)  # noqa: S704 — a template's output, escaped by Jinja
        if ttl:
            _keep(key, html, ttl)
    return html


#: The parts of every page that show who is reading it (their macros), rendered for each
#: reader into a page otherwise shared: see :func:`shared_page`.
PERSONAL = "_personal.html"
_HOLE = re.compile(r"<!--yiting:personal:(\w+)-->")


class _Holes:
    """Stands in for :data:`PERSONAL`'s macros while a shared page is rendered: each leaves a
    mark where its part goes."""

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        mark = Markup(f"<!--yiting:personal:{name}-->")  # noqa: S704 — a constant
        return lambda: mark


def _refused(what: str) -> Callable:
    def refuse(*args, **kwargs):
        raise RuntimeError(f"a shared page cannot show {what}: it belongs in {PERSONAL}")

    return refuse


@contextmanager
def _as_a_visitor():
    """While a shared page is rendered, Flask-Login's ``current_user`` is nobody (the visitor
    yielded): code that asks who is reading gets the answer for a visitor, never this
    reader's."""
    missing = object()
    reader = g.get("_login_user", missing)
    g._login_user = visitor = current_app.login_manager.anonymous_user()
    try:
        yield visitor
    finally:
        if reader is missing:
            g.pop("_login_user", None)
        else:
            g._login_user = reader


def _render_shared(template: str, context: dict) -> tuple[str, ...]:
    """``template`` rendered for nobody in particular, cut at its personal parts: the text
    before each part, the part's name, …, the text after the last."""
    current_app.update_template_context(context)
    with _as_a_visitor() as visitor:
        context.update(
            personal_holes=_Holes(),
            current_user=visitor,
            csrf_token=_refused("a CSRF token"),
            get_flashed_messages=_refused("flashed messages"),
        )
        html = current_app.jinja_env.get_template(template).render(context)
    return tuple(_HOLE.split(html))


def _fill(pieces: tuple[str, ...]) -> str:
    """A shared page with this reader's personal parts in their places."""
    context: dict = {}
    current_app.update_template_context(context)
    own = current_app.jinja_env.get_template(PERSONAL).make_module(context)
    page = list(pieces)
    for at in range(1, len(page), 2):
        page[at] = str(getattr(own, page[at])())
    return "".join(page)


def shared_page(template: str, context: Callable[[], dict]) -> str:
    """``template`` rendered with ``context()``, for a page that is the same for every reader
    but for the parts of the layout that show who is reading (``_personal.html``: the
    account links, the flashed messages, the CSRF token, the scripts of the signed-in).

    The rest is rendered once for this address, language, time zone and text size, kept for
    a few seconds and shared by every reader; each reader's own parts are rendered into it.
    It is rendered as if for a visitor: naming ``csrf_token`` or the flashed messages in it
    is an error, and ``current_user`` is nobody. With the cache off
    (``PUBLIC_PAGE_CACHE_SECONDS = 0``) the page is rendered whole, as any other."""
    ttl = _ttl()
    if not ttl:
        return render_template(template, **context())
    key = ("page-for-anyone", *_for_anyone_here(template), request.cookies.get("text"))
    pieces = _kept(key)
    if pieces is None:
        pieces = _render_shared(template, context())
        _keep(key, pieces, ttl)
    return _fill(pieces)


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
