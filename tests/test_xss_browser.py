"""The XSS corpus (tests/xss_corpus.py) posted into every field people write, then every page
that shows it opened in Chromium as the chair, a resident and a visitor, 360 px wide.

Posted through the API and Socket.IO of a live server: display names, chat messages (also a
hidden one and its reason), a chair's announcement, motions (title, text), amendments,
rejection, withdrawal and tabling reasons, option labels, ballot reasons, minority
opinions from the floor, topics (title, description), a category, a decline reason,
consultations (title, description, agenda, place), written opinions, outcomes (title,
summary, category, responsible party, minority opinion, correction reason), objections
and answers, progress notes and rating comments.

On every page: no dialog opens, ``window.__xss`` stays undefined, no element or attribute
from a payload exists in the DOM (no script, no ``on…`` attribute, no ``javascript:`` or
``data:`` link, no frame), the page's own scripts raise nothing, the payloads are readable
as text, nothing is wider than the 360 px screen, and a right-to-left override in a name
or title does not turn the text after it around. The signed-in contexts ignore the
Content Security Policy (Playwright's ``bypass_csp``), so an escaping bug shows up as a
script that runs rather than hiding behind the policy; the visitor's context keeps the
policy and records any violation it reports.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
import socketio
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, LiveServer, sign_in
from tests.xss_corpus import MARKER, PAYLOADS, RLO, everything, long_word, pack

WIDTH = 360
PASSWORD = "xss-corpus-pass-1"  # noqa: S105 — test accounts on a throw-away server
DONE = "xss corpus: all posted"

# Display names (at most 64 characters): markup, a right-to-left override, a long word.
PEOPLE = {
    "mallory": '<img src=x onerror="window.__xss=1">Mallory',
    "trudy": RLO + "gnp.exe Trudy",
    "eve": long_word(64),
    "oscar": '"><script>window.__xss=1</script>{{7*7}}',
}

# What the page scan reports (see the module docstring).
SCAN = r"""
(width) => {
  const out = {
    xss: window.__xss === undefined ? null : String(window.__xss),
    injected: [], rtl: [], overflow: [],
    scrollWidth: document.documentElement.scrollWidth,
    text: document.body.innerText,
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\s+/).join(".") : "");
  const unsafeUrl = /^\s*(javascript|data|vbscript)\s*:/i;
  const urlAttributes = ["href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"];
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) out.injected.push(`${describe(el)}[${name}]`);
      if (urlAttributes.includes(name) && unsafeUrl.test(attr.value)) {
        out.injected.push(`${describe(el)}[${name}=${attr.value.slice(0, 40)}]`);
      }
    }
    if (["iframe", "frame", "object", "embed", "base"].includes(tag)) {
      out.injected.push(describe(el));
    }
    if (tag === "img" && el.getAttribute("src") === "x") out.injected.push("img[src=x]");
    if (tag === "script") {
      const type = (el.type || "").toLowerCase();
      const ownFile = el.src && new URL(el.src).origin === location.origin;
      if (type !== "application/json" && !ownFile) {
        out.injected.push(`script ${el.src || el.textContent.slice(0, 40)}`);
      }
    }
    if (tag === "meta" && (el.httpEquiv || "").toLowerCase() === "refresh") {
      out.injected.push("meta[http-equiv=refresh]");
    }
  }
  // JSON data blocks must still parse (a payload must not break out of them).
  for (const block of document.querySelectorAll('script[type="application/json"]')) {
    try { JSON.parse(block.textContent); } catch (e) {
      out.injected.push(`unparsable ${describe(block)}`);
    }
  }
  if (out.scrollWidth > width) {
    // The innermost elements that stick out of the screen or whose content sticks out.
    const wide = (el) => el.getBoundingClientRect().right > width + 1 ||
      (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible");
    for (const el of document.body.querySelectorAll("*")) {
      if (!wide(el) || [...el.children].some(wide)) continue;
      const right = Math.max(el.getBoundingClientRect().right, el.scrollWidth);
      out.overflow.push(`${describe(el)} (to ${Math.round(right)} px)`);
      if (out.overflow.length >= 8) break;
    }
  }
  // A right-to-left override is confined to its own paragraph or isolated element: the
  // text after it in the same paragraph must not be turned around.
  const isolating = new Set(["isolate", "isolate-override", "plaintext"]);
  const visible = (node) => node.parentElement && node.parentElement.getClientRects().length;
  const boundary = (el) => {
    const style = getComputedStyle(el);
    if (style.display !== "inline" && style.display !== "contents") return "block";
    if (isolating.has(style.unicodeBidi)) return "isolated";
    return null;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) texts.push(node);
  texts.forEach((node, index) => {
    const at = node.data.lastIndexOf("\u202e");
    if (at < 0 || !visible(node) || node.data.slice(at).includes("\u202c")) return;
    let block = node.parentElement;
    let kind = boundary(block);
    while (!kind && block.parentElement) {
      block = block.parentElement;
      kind = boundary(block);
    }
    if (kind !== "block") return;
    for (const next of texts.slice(index + 1)) {
      if (!block.contains(next)) break;
      if (!next.data.trim() || !visible(next)) continue;
      let el = next.parentElement;
      let own = true;
      for (; el && el !== block; el = el.parentElement) {
        if (boundary(el)) { own = false; break; }
      }
      if (!own) continue;
      out.rtl.push(`${describe(node.parentElement)} turns "${next.data.trim().slice(0, 30)}"`);
      break;
    }
  });
  return out;
}
"""


# --- the server and its API ----------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A demo server of its own: the corpus sends more messages than the chat rate limit."""
    live = LiveServer(
        tmp_path_factory.mktemp("xss"),
        os.environ.get("YITING_TEST_MODE", "eventlet"),
        extra_env={"ROOM_RATE_LIMIT_COUNT": "1000", "ROOM_RATE_LIMIT_SECONDS": "10"},
    )
    live.prepare()
    live.start()
    yield live
    live.stop()


class Api:
    def __init__(self, server, username, password="yiting-demo"):
        self.server = server
        self.username = username
        self.http = requests.Session()
        self.token = server.token(username, password)
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def __call__(self, method, path, **kwargs):
        response = self.http.request(
            method, self.server.url + "/api/v1" + path, timeout=20, **kwargs
        )
        assert response.status_code < 300, (self.username, method, path, response.text[:500])
        return response.json() if response.content else None

    def socket(self):
        client = socketio.Client(reconnection=False)
        client.connect(self.server.url, auth={"token": self.token}, transports=["websocket"])
        return client


def call(client, event, data):
    answer = client.call(event, data, timeout=20)
    assert answer.get("ok"), (event, answer)
    return answer


# --- browsers ---------------------------------------------------------------------------------


class Visit:
    """One browser context (one person), its pages and everything the pages reported."""

    def __init__(self, new_context, base, username=None, *, bypass_csp=True):
        self.base = base
        self.who = username or "visitor"
        self.context = new_context(
            locale="en-US",
            viewport={"width": WIDTH, "height": 740},
            bypass_csp=bypass_csp,
        )
        self.page = self.context.new_page()
        self.events: list[str] = []
        self.csp_reports: list[str] = []
        page = self.page
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.events.append(f"page error: {exc}"))
        page.on("console", self._console)
        if username:
            sign_in(page, base, username, PASSWORD if username in PEOPLE else "yiting-demo")
            assert "/login" not in page.url, f"{username} could not sign in"

    def _dialog(self, dialog):
        self.events.append(f"dialog ({dialog.type}): {dialog.message}")
        dialog.dismiss()

    def _console(self, message):
        if message.type != "error":
            return
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.csp_reports.append(text)
        elif "Failed to load resource" not in text:
            self.events.append(f"console error: {text}")

    def open(self, path):
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (self.who, path, response)
        self.page.wait_for_load_state("load")
        return self.page


class Report:
    def __init__(self):
        self.problems: list[str] = []
        self.pages: list[str] = []

    def check(self, visit: Visit, path: str, expected=(), *, shot=None) -> dict:
        """Scan the page now open in ``visit`` for everything the module docstring lists."""
        page = visit.page
        page.wait_for_timeout(150)  # let the page's modules render what they render
        scan = page.evaluate(SCAN, WIDTH)
        where = f"{visit.who} {path}"
        self.pages.append(where)
        if scan["xss"] is not None:
            self.problems.append(f"{where}: a payload ran (window.{MARKER} = {scan['xss']})")
        for item in scan["injected"]:
            self.problems.append(f"{where}: markup from a payload in the page: {item}")
        if scan["scrollWidth"] > WIDTH:
            self.problems.append(
                f"{where}: {scan['scrollWidth']} px wide at {WIDTH} px; too wide: "
                + ", ".join(scan["overflow"])
            )
        for item in scan["rtl"]:
            self.problems.append(f"{where}: right-to-left override escapes: {item}")
        for text in expected:
            if text not in scan["text"]:
                self.problems.append(f"{where}: not shown as text: {text[:70]!r}")
        for event in visit.events:
            self.problems.append(f"{where}: {event}")
        visit.events.clear()
        if shot:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"xss-{shot}.png"))  # the top of the page
        return scan


def in_markdown(*, short=False):
    """What every payload looks like once a Markdown field (`everything`) is rendered."""
    texts = [p.shown_in_markdown for p in PAYLOADS if p.shown_in_markdown is not None]
    return texts + ([] if short else [long_word(200)])


# --- the test ------------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_corpus_stays_text_on_every_page(server, new_context):
    started = time.monotonic()
    base = server.url
    chair = Api(server, "chair")
    report = Report()
    posted: dict[str, str] = {}

    # People with payloads for names, and a category with one.
    for username, name in PEOPLE.items():
        chair(
            "POST",
            "/communities/demo/members",
            json={"username": username, "display_name": name, "password": PASSWORD},
        )
    people = {u: Api(server, u, PASSWORD) for u in PEOPLE}
    mallory, trudy, eve, oscar = (people[u] for u in ("mallory", "trudy", "eve", "oscar"))
    posted["category"] = pack(60, 9, word=12)
    category = chair("POST", "/communities/demo/categories", json={"name": posted["category"]})

    # Topics: one declined with a reason, one accepted into a draft, one left open.
    topics = {}
    for key, offset in (("declined", 0), ("accepted", 8), ("open", 17)):
        title = pack(120, offset, word=40)
        topics[key] = mallory(
            "POST",
            "/communities/demo/topics",
            json={"title": title, "description": everything(5000), "category": category["id"]},
        )
        posted[f"topic-{key}"] = title
    trudy("POST", f"/topics/{topics['declined']['id']}/support")
    posted["decline"] = everything(2000)
    chair("POST", f"/topics/{topics['declined']['id']}/decline", json={"reason": posted["decline"]})
    posted["draft"] = pack(200, 13, word=60)
    draft = chair(
        "POST", f"/topics/{topics['accepted']['id']}/accept", json={"title": posted["draft"]}
    )["consultation"]

    # Two consultations: B stays announced, A goes live.
    def consultation(key, offset):
        posted[f"{key}-title"] = pack(200, offset, word=60)
        posted[f"{key}-place"] = pack(200, offset + 5, word=50)
        agenda = [p.text for p in PAYLOADS if len(p.text) < 200] + [long_word(199)]
        created = chair(
            "POST",
            "/consultations",
            json={
                "community": "demo",
                "title": posted[f"{key}-title"],
                "description": everything(50_000),
                "place": posted[f"{key}-place"],
                "agenda": agenda[:30],
                "access": "open",
                "seconds_required": 1,
            },
        )
        for username in PEOPLE:
            chair(
                "POST",
                f"/consultations/{created['id']}/participants",
                json={"username": username, "role": "voter"},
            )
        chair("POST", f"/consultations/{created['id']}/transition", json={"to": "announced"})
        return created["id"]

    b = consultation("b", 3)
    a = consultation("a", 11)
    for who in (mallory, trudy, eve):
        who("POST", f"/consultations/{b}/written-opinions", json={"text": everything(5000)})
        who("POST", f"/consultations/{b}/attendance", json={"answer": "yes"})
    oscar("POST", f"/consultations/{a}/written-opinions", json={"text": everything(5000)})
    chair("POST", f"/consultations/{a}/transition", json={"to": "live"})

    # Three people in the browser; Mallory watches the room while everything is posted.
    people_seen = {
        "chair": Visit(new_context, base, "chair"),
        "mallory": Visit(new_context, base, "mallory"),
        "visitor": Visit(new_context, base, bypass_csp=False),
    }
    watcher = people_seen["mallory"]
    watcher.open(f"/consultations/{a}")
    expect(watcher.page.locator("#connection")).to_have_attribute("data-state", "connected")

    sockets = {u: people[u].socket() for u in ("trudy", "eve", "oscar")}
    sockets["chair"] = chair.socket()
    try:
        for client in sockets.values():
            call(client, "room:join", {"consultation_id": a})

        def say(client, body, **extra):
            data = {"consultation_id": a, "body": body, "client_id": uuid.uuid4().hex, **extra}
            return call(client, "message:send", data)["message"]

        for index, payload in enumerate(PAYLOADS):
            say(sockets[("trudy", "eve", "oscar")[index % 3]], payload.text)
        everything_said = say(sockets["oscar"], everything(2000))
        say(sockets["eve"], long_word(2000))
        say(sockets["chair"], everything(2000), announcement=True)
        to_hide = say(sockets["trudy"], everything(2000))
        posted["hide"] = pack(500, 4, word=100)
        call(
            sockets["chair"],
            "message:hide",
            {"consultation_id": a, "message_id": to_hide["seq"], "reason": posted["hide"]},
        )

        # Motions: text and title, an accepted and a rejected amendment, a withdrawal, a
        # tabling, an open vote with reasons and a secret option vote with payload labels.
        posted["m1"] = pack(200, 1, word=60)
        m1 = trudy(
            "POST",
            f"/consultations/{a}/motions",
            json={"title": posted["m1"], "text": everything(20_000)},
        )
        trudy("POST", f"/motions/{m1['id']}/submit")
        eve("POST", f"/motions/{m1['id']}/second")
        amended = everything(20_000).replace("\n\n", "\n\n- ", 3)
        accepted = oscar("POST", f"/motions/{m1['id']}/amendments", json={"text": amended})
        chair("POST", f"/amendments/{accepted['id']}/accept")
        rejected = mallory(
            "POST", f"/motions/{m1['id']}/amendments", json={"text": everything(20_000) + "!"}
        )
        chair("POST", f"/amendments/{rejected['id']}/reject", json={"reason": everything(2000)})
        call(
            sockets["chair"],
            "minority:record",
            {"consultation_id": a, "message_id": everything_said["seq"], "motion_id": m1["id"]},
        )
        call(
            sockets["chair"],
            "minority:record",
            {"consultation_id": a, "text": everything(2000), "username": "trudy"},
        )
        vote1 = chair(
            "POST",
            f"/motions/{m1['id']}/votes",
            json={"kind": "yes_no_abstain", "secret": False, "threshold": "simple",
                  "quorum": None, "results": "live"},
        )  # fmt: skip
        for who, choice in ((trudy, "yes"), (oscar, "yes"), (eve, "no"), (mallory, "abstain")):
            who(
                "POST",
                f"/votes/{vote1['id']}/ballots",
                json={"choice": choice, "reason": everything(2000)},
            )
        chair("POST", f"/votes/{vote1['id']}/close")

        posted["m2"] = pack(200, 19, word=60)
        m2 = eve(
            "POST",
            f"/consultations/{a}/motions",
            json={"title": posted["m2"], "text": everything(20_000)},
        )
        eve("POST", f"/motions/{m2['id']}/submit")
        oscar("POST", f"/motions/{m2['id']}/second")
        options = [pack(100, i * 3, word=20) for i in range(3)] + [long_word(100)]
        posted["options"] = "\n".join(options)
        vote2 = chair(
            "POST",
            f"/motions/{m2['id']}/votes",
            json={"kind": "options", "options": options, "secret": True, "threshold": "plurality",
                  "quorum": None, "results": "hidden"},
        )  # fmt: skip
        for who, option in ((mallory, 0), (trudy, 0), (eve, 1), (oscar, 3)):
            who(
                "POST",
                f"/votes/{vote2['id']}/ballots",
                json={"choice": options[option], "reason": everything(2000)},
            )
        chair("POST", f"/votes/{vote2['id']}/close")

        m3 = oscar(
            "POST",
            f"/consultations/{a}/motions",
            json={"title": pack(200, 21, word=40), "text": everything(20_000)},
        )
        oscar("POST", f"/motions/{m3['id']}/withdraw", json={"reason": everything(2000)})
        m4 = mallory(
            "POST",
            f"/consultations/{a}/motions",
            json={"title": pack(200, 24, word=40), "text": everything(20_000)},
        )
        mallory("POST", f"/motions/{m4['id']}/submit")
        chair("POST", f"/motions/{m4['id']}/table", json={"reason": everything(2000)})
        say(sockets["chair"], DONE)
    finally:
        for client in sockets.values():
            client.disconnect()
    posting_done = time.monotonic()

    # --- phase 1: the room is live --------------------------------------------------------------
    names = list(PEOPLE.values())
    room_texts = names + in_markdown() + [posted["m1"], posted["m2"], posted["hide"]]
    expect(watcher.page.locator("#messages")).to_contain_text(DONE, timeout=20_000)
    report.check(watcher, f"/consultations/{a} (live updates)", room_texts, shot="room-live")

    chair_visit, visitor = people_seen["chair"], people_seen["visitor"]
    pages_1 = [
        (chair_visit, f"/consultations/{a}", room_texts, "room-chair"),
        (
            chair_visit,
            "/communities/demo",
            [posted["a-title"], posted["b-title"], posted["draft"]],
            None,
        ),
        (
            chair_visit,
            f"/consultations/{b}",
            [posted["b-title"], posted["b-place"], *in_markdown(), *names],
            "announced",
        ),
        (
            chair_visit,
            f"/consultations/{draft['id']}",
            [posted["draft"], *in_markdown(short=True)],
            None,
        ),
        (chair_visit, f"/consultations/{b}/edit", [], None),
        (chair_visit, "/communities/demo/admin", names, "admin"),
        (
            chair_visit,
            "/topics",
            [posted["topic-declined"], posted["topic-open"], posted["category"]],
            "topics",
        ),
        (
            chair_visit,
            f"/topics/{topics['open']['id']}",
            [posted["topic-open"], *in_markdown(short=True)],
            None,
        ),
        (
            watcher,
            f"/topics/{topics['declined']['id']}",
            [posted["topic-declined"], *in_markdown(short=True)],
            "topic",
        ),
        (watcher, f"/consultations/{b}", [posted["b-title"], *in_markdown()], None),
        (visitor, "/communities/demo", [posted["a-title"], posted["b-title"]], None),
        (
            visitor,
            f"/consultations/{a}",
            [posted["a-title"], posted["a-place"], *in_markdown()],
            None,
        ),
        (
            visitor,
            f"/consultations/{b}",
            [posted["b-title"], posted["b-place"], *in_markdown()],
            None,
        ),
    ]
    for visit, path, expected, shot in pages_1:
        visit.open(path)
        report.check(visit, path, expected, shot=shot)

    # --- phase 2: closed, with an outcome that was corrected, objected to, done and rated ----
    chair("POST", f"/consultations/{a}/transition", json={"to": "closed"})
    posted["outcome"] = pack(200, 6, word=60)
    posted["responsible"] = pack(200, 15, word=40)
    posted["outcome-category"] = pack(64, 22, word=10)
    outcome = chair(
        "POST",
        f"/consultations/{a}/outcome",
        json={
            "title": posted["outcome"],
            "summary": everything(20_000),
            "category": posted["outcome-category"],
            "responsible": posted["responsible"],
            "minority_opinion": everything(2000),
            "due": "2030-06-30",
        },
    )
    oid = outcome["id"]
    chair("POST", f"/outcomes/{oid}/publish")
    posted["correction"] = pack(2000, 2, word=300)
    chair(
        "POST",
        f"/outcomes/{oid}/corrections",
        json={"reason": posted["correction"], "summary": everything(20_000) + "\n\nv2"},
    )
    objection = mallory("POST", f"/outcomes/{oid}/objections", json={"reason": everything(2000)})
    chair("POST", f"/objections/{objection['id']}/answer", json={"answer": everything(2000)})
    chair("POST", f"/outcomes/{oid}/progress", json={"percent": 60, "note": everything(2000)})
    chair("POST", f"/outcomes/{oid}/complete")
    for who, stars in ((mallory, 2), (trudy, 5)):
        who("POST", f"/outcomes/{oid}/ratings", json={"stars": stars, "comment": everything(2000)})

    notice_texts = [posted["outcome"], posted["responsible"], posted["correction"], *in_markdown()]
    pages_2 = [
        (chair_visit, f"/notice/{oid}", notice_texts, "notice-chair"),
        (
            chair_visit,
            f"/consultations/{a}/minutes",
            [posted["a-title"], *names, *in_markdown()],
            "minutes",
        ),
        (chair_visit, f"/motions/{m1['id']}", [posted["m1"], *in_markdown(short=True)], "motion"),
        (chair_visit, f"/consultations/{a}", [posted["a-title"], *names], None),
        (watcher, "/notifications", [posted["b-title"], posted["outcome"]], "notifications"),
        (watcher, f"/notice/{oid}", notice_texts, None),
        (watcher, f"/motions/{m2['id']}", [posted["m2"], *posted["options"].split("\n")], None),
        (visitor, "/notice", [posted["outcome"]], "notice-board"),
        (visitor, f"/notice/{oid}", notice_texts, "notice-visitor"),
        (visitor, f"/notice/{oid}/v/1", [posted["outcome"], *in_markdown()], None),
        (visitor, f"/consultations/{a}/minutes", [posted["a-title"], *names, *in_markdown()], None),
        (visitor, f"/motions/{m1['id']}", [posted["m1"]], None),
    ]
    for visit, path, expected, shot in pages_2:
        visit.open(path)
        report.check(visit, path, expected, shot=shot)

    # Downloads are never HTML; the feed is well-formed XML with the title as text.
    for path in (
        f"/consultations/{a}/minutes.md",
        f"/consultations/{a}/minutes.json",
        f"/notice/{oid}/v/1/record.json",
    ):
        response = requests.get(base + path, timeout=15)
        assert response.status_code == 200, path
        kind = response.headers["Content-Type"]
        if "text/html" in kind or response.headers.get("X-Content-Type-Options") != "nosniff":
            report.problems.append(f"{path}: served as {kind!r} without nosniff")
    minutes = requests.get(base + f"/consultations/{a}/minutes.json", timeout=15).json()
    assert posted["a-title"] in json.dumps(minutes, ensure_ascii=False)
    atom = requests.get(base + "/notice/feed.atom", timeout=15).content
    feed = ET.fromstring(atom)  # noqa: S314 — our own server's feed
    titles = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}title")]
    if posted["outcome"] not in titles:
        report.problems.append(f"feed: the outcome's title is not one of {titles}")

    csp = [r for v in people_seen.values() for r in v.csp_reports]
    finished = time.monotonic()
    print(
        f"\n{len(PAYLOADS)} payloads + long words; {len(report.pages)} pages checked; "
        f"posting {posting_done - started:.1f} s, pages {finished - posting_done:.1f} s; "
        f"CSP reports in the visitor's browser: {len(csp)}"
    )
    for line in csp:
        print("  CSP:", line[:200])
    assert not report.problems, "\n".join(report.problems)


# --- without a browser: what Yiting stores for a right-to-left override --------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (RLO + "gnp.exe", RLO + "gnp.exe\u202c"),
        (RLO + "a\u202c b", RLO + "a\u202c b"),  # closed already: unchanged
        ("\u2067" + RLO + "x  ", "\u2067" + RLO + "x\u202c\u2069"),  # innermost first
        ("plain <b>text</b>", "plain <b>text</b>"),
    ],
)
def test_an_open_override_is_closed_where_text_is_stored(demo, client, auth, sent, stored):
    """Names and titles keep their text, but an override they leave open is closed, so it
    cannot turn around what a page, a notification or the room prints after them."""
    from consult.accounts.models import User
    from consult.extensions import db
    from consult.topics.models import Topic

    headers = auth.headers("chair")
    member = client.post(
        "/api/v1/communities/demo/members",
        json={"username": "trudy", "display_name": sent, "password": PASSWORD},
        headers=headers,
    )
    assert member.status_code == 201, member.get_json()
    topic = client.post("/api/v1/communities/demo/topics", json={"title": sent}, headers=headers)
    assert topic.status_code == 201, topic.get_json()
    assert topic.get_json()["title"] == stored
    db.session.expire_all()
    assert db.session.scalar(db.select(User.display_name).filter_by(username="trudy")) == stored
    assert db.session.get(Topic, topic.get_json()["id"]).title == stored
