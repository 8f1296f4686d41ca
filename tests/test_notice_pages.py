"""The public notice board as pages and as an Atom feed: what a visitor sees, escaping of
everything people typed, the print stylesheet, and a board with 10,000 outcomes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from consult.core.time import utcnow
from consult.extensions import db
from consult.outcomes.models import Outcome
from tests.conftest import statements_run

from .test_outcomes_support import (
    FLOOR_NOTE,
    NO_REASON,
    close_room,
    hold_votes,
    publish,
)

ATOM = "{http://www.w3.org/2005/Atom}"
ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parent.parent

EVIL_SUMMARY = (
    "Summary <script>alert('s')</script> <img src=x onerror=alert(1)> "
    "[click me](javascript:alert('md')) <a href=\"javascript:alert(2)\">raw</a>"
)
EVIL_TEXT = "<script>alert('t')</script>[x](javascript:alert(3)) <b onmouseover=alert(4)>b</b>"


def text(response) -> str:
    return response.get_data(as_text=True)


class Elements(HTMLParser):
    """Every element a browser would build from the page, with its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.script_text = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text.append(data)


def assert_inert(html: str) -> None:
    """No script that people typed, no event handler attribute, no javascript: link."""
    parser = Elements()
    parser.feed(html)
    for tag, attrs in parser.elements:
        assert tag not in ("img", "iframe", "object", "embed"), (tag, attrs)
        if tag == "script":
            assert attrs.get("src", "").startswith("/"), attrs  # only the site's own modules
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, attrs)
            if name in ("href", "src", "action", "xlink:href"):
                assert not (value or "").strip().lower().startswith("javascript:"), (tag, attrs)
    assert "".join(parser.script_text).strip() == ""


@pytest.fixture
def chair(auth):
    return auth.headers("chair")


def test_visitor_reads_the_board_and_the_outcome(demo, client, chair):
    hold_votes(demo)
    outcome_id = publish(client, chair, demo.id)
    board = client.get("/notice")
    assert board.status_code == 200
    page = text(board)
    assert f'href="/notice/{outcome_id}"' in page
    assert demo.title.split()[0] in page
    assert 'type="application/atom+xml"' in page
    assert text(client.get("/notice?community=demo")).count(f'href="/notice/{outcome_id}"') == 1
    assert f'href="/notice/{outcome_id}"' not in text(client.get("/notice?community=nowhere"))
    assert f'href="/notice/{outcome_id}"' in text(client.get("/notice?q=车棚"))
    assert f'href="/notice/{outcome_id}"' not in text(client.get("/notice?q=游泳池"))
    assert f'href="/notice/{outcome_id}"' not in text(client.get("/notice?status=completed"))

    detail = client.get(f"/notice/{outcome_id}")
    assert detail.status_code == 200
    html = text(detail)
    # The vote results as SVG charts with a text equivalent beside them.
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"') >= 3
    assert re.search(
        r"<th scope=\"row\">Yes</th><td>3</td>|<th scope=\"row\">赞成</th><td>3</td>", html
    )
    assert "Plan A" in html
    assert NO_REASON in html and FLOOR_NOTE in html
    assert "非机动车停车棚" in html
    outcome = db.session.get(Outcome, outcome_id)
    assert outcome.fingerprint in html
    for receipt in (r["receipt"] for d in outcome.decisions for r in d["receipts"]):
        assert receipt in html
    assert 'name="reason"' not in html  # a visitor gets no objection form…
    assert "/login?next=" in html  # …but is told to sign in


def test_the_print_stylesheet_is_linked_and_made_for_a4(demo, client, chair):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id)
    html = text(client.get(f"/notice/{outcome_id}"))
    assert "/static/css/notice.css" in html
    assert 'class="print-only print-url"' in html and f"/notice/{outcome_id}/v/1" in html
    css = (ROOT_DIR / "static" / "css" / "notice.css").read_text()
    assert re.search(r"@page\s*{\s*size:\s*A4;\s*margin:", css)
    block = css[css.index("@media print") :]
    assert "nav" in block.split("{", 1)[0] + block and "display: none" in block


def test_drafts_and_unknown_outcomes_are_not_public(demo, client, chair):
    close_room(demo)
    outcome_id = client.post(
        f"/api/v1/consultations/{demo.id}/outcome", json={"summary": "secret draft"}, headers=chair
    ).get_json()["id"]
    assert client.get(f"/notice/{outcome_id}").status_code == 404
    assert client.get(f"/notice/{outcome_id}/v/1").status_code == 404
    assert client.get(f"/notice/{outcome_id}/v/1/record.json").status_code == 404
    assert "secret draft" not in text(client.get("/notice"))
    assert client.get("/notice/424242").status_code == 404
    assert "secret draft" not in text(client.get("/notice/feed.atom"))


def test_atom_feed_is_valid_atom(demo, client, chair):
    close_room(demo)
    outcome_id = publish(client, chair, demo.id)
    for url in (
        "/notice/feed.atom?community=demo",
        "/communities/demo/notice.atom",
        "/notice/feed.atom",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype == "application/atom+xml"
        root = ET.fromstring(response.data)  # noqa: S314 — the site's own feed
        assert root.tag == f"{ATOM}feed"
        for tag in ("id", "title", "updated"):
            assert root.find(f"{ATOM}{tag}") is not None and root.find(f"{ATOM}{tag}").text
        assert root.find(f"{ATOM}link[@rel='self']") is not None
        assert root.find(f"{ATOM}author/{ATOM}name").text
        entries = root.findall(f"{ATOM}entry")
        assert len(entries) == 1
        entry = entries[0]
        for tag in ("id", "title", "updated", "summary"):
            assert entry.find(f"{ATOM}{tag}") is not None and entry.find(f"{ATOM}{tag}").text, tag
        assert entry.find(f"{ATOM}link").get("href").endswith(f"/notice/{outcome_id}")
        assert entry.find(f"{ATOM}id").text.endswith(f"/notice/{outcome_id}")
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", entry.find(f"{ATOM}updated").text
        )
        assert "停车棚" in entry.find(f"{ATOM}content").text
    assert client.get("/notice/feed.atom?community=nowhere").status_code == 404


def test_escaping_on_every_page_and_in_the_feed(demo, client, auth, chair):
    close_room(demo)
    outcome_id = publish(
        client,
        chair,
        demo.id,
        summary=EVIL_SUMMARY,
        title="Title <script>alert('title')</script>",
        responsible="<i onclick=alert(5)>Property</i>",
        category="<b onmouseover=alert(6)>cat</b>",
        minority_opinion=EVIL_TEXT,
    )
    response = client.post(
        f"/api/v1/outcomes/{outcome_id}/corrections",
        json={"reason": EVIL_TEXT, "due": "2030-01-01"},
        headers=chair,
    )
    assert response.status_code == 201
    objection = client.post(
        f"/api/v1/outcomes/{outcome_id}/objections",
        json={"reason": EVIL_TEXT},
        headers=auth.headers("alice"),
    ).get_json()
    client.post(
        f"/api/v1/objections/{objection['id']}/answer", json={"answer": EVIL_TEXT}, headers=chair
    )
    client.post(
        f"/api/v1/outcomes/{outcome_id}/progress",
        json={"percent": 50, "note": EVIL_TEXT},
        headers=chair,
    )
    client.post(f"/api/v1/outcomes/{outcome_id}/complete", headers=chair)
    client.post(
        f"/api/v1/outcomes/{outcome_id}/ratings",
        json={"stars": 3, "comment": EVIL_TEXT},
        headers=auth.headers("bob"),
    )

    pages = [
        f"/notice/{outcome_id}",
        f"/notice/{outcome_id}/v/1",
        f"/notice/{outcome_id}/v/2",
        "/notice",
        "/notice?q=summary",
        "/notice?category=<b onmouseover=alert(6)>cat</b>",
        f"/consultations/{demo.id}/minutes",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = text(response)
        assert_inert(html)
        assert "&lt;script&gt;" in html or url.startswith("/notice?") or "minutes" in url, url
    detail = text(client.get(f"/notice/{outcome_id}"))
    assert "click me" in detail  # the Markdown link's text stays, without its href
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in detail

    auth.login("chair")
    for url in (
        f"/notice/{outcome_id}",
        f"/notice/{outcome_id}/correct",
        f"/consultations/{demo.id}/minutes",
    ):
        html = text(client.get(url))
        assert_inert(html)
    auth.logout()

    feed = client.get("/notice/feed.atom?community=demo")
    root = ET.fromstring(feed.data)  # noqa: S314 — the site's own feed
    entry = root.find(f"{ATOM}entry")
    assert (
        entry.find(f"{ATOM}title").text == "Title <script>alert('title')</script>"
    )  # escaped text
    content = entry.find(f"{ATOM}content").text  # the HTML a feed reader would show
    assert_inert(content)
    assert "<script" not in content
    assert b"<script>" not in feed.data
    md = text(client.get(f"/consultations/{demo.id}/minutes.md"))
    assert EVIL_TEXT.split("[")[0] in md  # Markdown download keeps the text as typed


def test_pagination_and_a_board_with_ten_thousand_outcomes(demo, client, chair):
    """10,000 published outcomes: each page takes a constant, small number of queries."""
    close_room(demo)
    publish(client, chair, demo.id)
    from consult.consultations.models import Consultation

    template = db.session.scalar(sa.select(Outcome))
    now = utcnow()
    n_rows = 10_000
    db.session.execute(
        Consultation.__table__.insert(),
        [
            {
                "community_id": template.community_id,
                "title": f"议题 {n}",
                "description": "",
                "form": "council",
                "access": "open",
                "status": "outcome_published",
                "place": "",
                "seconds_required": 1,
                "default_threshold": "simple",
                "default_secret": False,
                "created_by_id": template.created_by_id,
                "created_at": now,
            }
            for n in range(n_rows)
        ],
    )
    ids = db.session.scalars(
        sa.select(Consultation.id)
        .where(Consultation.id != template.consultation_id)
        .order_by(Consultation.id)
    ).all()
    db.session.execute(
        Outcome.__table__.insert(),
        [
            {
                "consultation_id": consultation_id,
                "community_id": template.community_id,
                "status": ("published", "implementing", "completed")[n % 3],
                "title": f"议题 {n} Topic {n}",
                "category": ("环境", "交通", "安全")[n % 3],
                "summary": f"第{n}号结果 outcome number {n}",
                "responsible": "居委会",
                "notice_days": 7,
                "decisions": [],
                "search_text": f"议题 {n} topic {n}\n第{n}号结果 outcome number {n}".casefold(),
                "current_version": 1,
                "fingerprint": "sha256:" + "0" * 64,
                "created_by_id": template.created_by_id,
                "created_at": now,
                "updated_at": now,
                "published_at": now - timedelta(minutes=n + 1),
            }
            for n, consultation_id in enumerate(ids)
        ],
    )
    db.session.commit()

    with statements_run() as statements:
        response = client.get("/notice?page=3&q=topic", headers={"Accept-Language": "en"})
        api = client.get("/api/v1/notice?status=implementing&page=2").get_json()
    assert response.status_code == 200
    html = text(response)
    assert "Page 3 of 500" in html
    assert html.count('class="card notice-item"') == 20
    assert 'rel="next"' in html and 'rel="prev"' in html
    outcome_queries = [s for s in statements if "FROM outcome" in s]
    assert len(outcome_queries) <= 6, outcome_queries
    assert api["total"] == 3333 and len(api["items"]) == 20
    newest_first = [item["published_at"] for item in api["items"]]
    assert newest_first == sorted(newest_first, reverse=True)
