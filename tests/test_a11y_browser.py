"""Accessibility in a real browser: axe-core runs on every page of Yiting — as a visitor, a
resident who has a vote, and the chair — in Simplified Chinese and in English. No violation
of impact "serious" or "critical" is allowed; the lesser ones are printed. On the same pages:
colour is never the only signal (statuses, vote choices, chart rows and results say what they
mean in words or symbols), and the language and text-size switches are on every page.

The world the pages show is prepared through the API on one demo server: a draft, an
announced consultation (with attendance and a written opinion), the demo's live room with a
vote open, a closed consultation with a decided vote and its minutes, a published outcome on
the notice board, a proposed topic, a category and notifications. tests/test_phone_browser.py
and tests/test_keyboard_browser.py use the same server and world.

The pages are loaded in browser contexts that bypass the Content-Security-Policy (which
rightly forbids the inline script that injecting axe-core amounts to); nothing else about
the pages changes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import pytest
import requests

from tests.conftest import ROOT, LiveServer, sign_in

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LOCALES = {"zh": "zh-CN", "en": "en-US"}
HTML_LANG = {"zh": "zh-Hans", "en": "en"}
BLOCKING = ("serious", "critical")
SCHEDULED_LOCAL = "2030-05-01T10:00"  # community time (Asia/Shanghai), 02:00 UTC


# --- the world ------------------------------------------------------------------------------


class Api:
    """Calls to /api/v1 as one person, with a bearer token."""

    def __init__(self, server, username: str):
        self.base = server.url + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {server.token(username)}"

    def __call__(self, method: str, path: str, **kwargs):
        response = self.session.request(method, self.base + path, timeout=20, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


@dataclass
class World:
    """Ids of everything the pages show."""

    server: LiveServer
    ids: dict = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.server.url

    def pages(self, who: str) -> list[tuple[str, str]]:
        """``(name, path)`` of the pages ``who`` (visitor, alice, chair) is checked on."""
        i = self.ids
        public = [
            ("home", "/"),
            ("community", "/communities/demo"),
            ("announced", f"/consultations/{i['announced']}"),
            ("live room", f"/consultations/{i['live']}"),
            ("closed", f"/consultations/{i['closed']}"),
            ("motion", f"/motions/{i['closed_motion']}"),
            ("minutes", f"/consultations/{i['closed']}/minutes"),
            ("notice list", "/notice"),
            ("notice detail", f"/notice/{i['outcome']}"),
            ("topics", "/topics"),
        ]
        if who == "visitor":
            return [("sign in", "/login"), ("register", "/register"), *public]
        if who == "alice":
            return [
                *public,
                ("motion with vote open", f"/motions/{i['open_motion']}"),
                ("topic", f"/topics/{i['topic']}"),
                ("new topic", "/topics/new?community=demo"),
                ("notifications", "/notifications"),
            ]
        return [
            ("community", "/communities/demo"),
            ("community admin", "/communities/demo/admin"),
            ("category admin", "/communities/demo/categories"),
            ("new consultation", "/communities/demo/consultations/new"),
            ("draft", f"/consultations/{i['draft']}"),
            ("edit draft", f"/consultations/{i['draft']}/edit"),
            ("announced", f"/consultations/{i['announced']}"),
            ("live room", f"/consultations/{i['live']}"),
            ("closed", f"/consultations/{i['closed']}"),
            ("outcome draft", f"/consultations/{i['closed']}/outcome"),
            ("topic", f"/topics/{i['topic']}"),
            ("notice detail", f"/notice/{i['outcome']}"),
        ]


def _consultation(chair: Api, title: str, voters=("alice", "bob", "carol"), **fields) -> int:
    body = {
        "community": "demo",
        "title": title,
        "description": "**Why**: the residents asked for it.\n\n- plan\n- costs",
        "place": "Community centre 社区活动中心",
        "scheduled_at": SCHEDULED_LOCAL,
        "agenda": ["Plan 方案", "Costs 费用", "Vote 表决"],
        **fields,
    }
    cid = chair("POST", "/consultations", json=body)["id"]
    for username in voters:
        chair(
            "POST",
            f"/consultations/{cid}/participants",
            json={"username": username, "role": "voter"},
        )
    return cid


def _decided_vote(people: dict, cid: int, title: str) -> int:
    """A motion on ``cid`` (live) voted on and closed: two yes, one no with a reason."""
    alice, bob, carol, chair = (people[n] for n in ("alice", "bob", "carol", "chair"))
    motion = alice(
        "POST",
        f"/consultations/{cid}/motions",
        json={"title": title, "text": "Build a **covered** shed by the south gate."},
    )
    alice("POST", f"/motions/{motion['id']}/submit")
    bob("POST", f"/motions/{motion['id']}/second")
    vote = chair(
        "POST",
        f"/motions/{motion['id']}/votes",
        json={"secret": False, "threshold": "simple", "quorum": None, "results": "live"},
    )
    alice("POST", f"/votes/{vote['id']}/ballots", json={"choice": "yes"})
    bob("POST", f"/votes/{vote['id']}/ballots", json={"choice": "yes"})
    carol(
        "POST",
        f"/votes/{vote['id']}/ballots",
        json={"choice": "no", "reason": "Too noisy at night (夜间太吵)."},
    )
    chair("POST", f"/votes/{vote['id']}/close")
    return motion["id"]


def build_world(server) -> World:
    """Prepare every page state through the API."""
    people = {n: Api(server, n) for n in ("chair", "alice", "bob", "carol")}
    chair, alice, bob = people["chair"], people["alice"], people["bob"]
    world = World(server)
    ids = world.ids

    listing = chair("GET", "/communities/demo/consultations")["consultations"]
    ids["live"] = live = next(c["id"] for c in listing if c["status"] == "live")

    # The live room: messages and a vote open on which alice has not voted yet.
    for who, text in (
        (alice, "Good evening, everyone. 大家好！"),
        (bob, "I support a **covered** shed."),
    ):
        who("POST", f"/consultations/{live}/messages", json={"body": text})
    motion = alice(
        "POST",
        f"/consultations/{live}/motions",
        json={"title": "Covered bicycle shed", "text": "Build a covered bicycle shed."},
    )
    alice("POST", f"/motions/{motion['id']}/submit")
    bob("POST", f"/motions/{motion['id']}/second")
    vote = chair(
        "POST",
        f"/motions/{motion['id']}/votes",
        json={"secret": False, "threshold": "simple", "quorum": None, "results": "live"},
    )
    bob("POST", f"/votes/{vote['id']}/ballots", json={"choice": "no", "reason": "Too expensive."})
    ids["open_motion"], ids["open_vote"] = motion["id"], vote["id"]
    # a second motion, still waiting for a seconder
    pending = bob(
        "POST",
        f"/consultations/{live}/motions",
        json={"title": "Plant trees", "text": "Plant four trees."},
    )
    bob("POST", f"/motions/{pending['id']}/submit")

    # A closed consultation with a decided vote (its minutes), and one with a published outcome.
    for key, title in (
        ("closed", "Lift maintenance 电梯维护"),
        ("published", "South gate shed 南门车棚"),
    ):
        cid = ids[key] = _consultation(chair, title)
        chair("POST", f"/consultations/{cid}/transition", json={"to": "announced"})
        chair("POST", f"/consultations/{cid}/transition", json={"to": "live"})
        alice("POST", f"/consultations/{cid}/messages", json={"body": "Let us decide today."})
        ids[f"{key}_motion"] = _decided_vote(people, cid, title)
        chair("POST", f"/consultations/{cid}/transition", json={"to": "closed"})
    outcome = chair("POST", f"/consultations/{ids['published']}/outcome", json={
        "summary": "The lot by the south gate becomes a covered bicycle shed.",
        "responsible": "Property company 物业公司", "due": "2030-06-30"})  # fmt: skip
    chair("POST", f"/outcomes/{outcome['id']}/publish")
    chair(
        "POST",
        f"/outcomes/{outcome['id']}/progress",
        json={"percent": 40, "note": "Foundations laid."},
    )
    ids["outcome"] = outcome["id"]

    # An announced consultation (attendance, a written opinion) and a draft.
    ids["announced"] = announced = _consultation(chair, "Bicycle shed 自行车棚", access="open")
    chair("POST", f"/consultations/{announced}/transition", json={"to": "announced"})
    bob("POST", f"/consultations/{announced}/attendance", json={"answer": "yes"})
    bob(
        "POST",
        f"/consultations/{announced}/written-opinions",
        json={"text": "Keep two spaces for mobility scooters."},
    )
    ids["draft"] = _consultation(chair, "Draft: courtyard lights 庭院照明")

    # Topics: a category, a topic by alice that bob supports.
    chair("POST", "/communities/demo/categories", json={"name": "Safety 安全"})
    topic = alice(
        "POST",
        "/communities/demo/topics",
        json={
            "title": "Repair the north gate lamp",
            "description": "It has been dark for a month.",
            "category": "Safety 安全",
        },
    )
    bob("POST", f"/topics/{topic['id']}/support")
    ids["topic"] = topic["id"]
    return world


# --- the browser side -----------------------------------------------------------------------


class People:
    """One browser context per person and language, signed in once and reused."""

    def __init__(self, browser, base: str, **context_args):
        self.browser, self.base, self.context_args = browser, base, context_args
        self.pages = {}

    def page(self, who: str, lang: str):
        key = (who, lang)
        if key not in self.pages:
            context = self.browser.new_context(locale=LOCALES[lang], **self.context_args)
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.errors, page.failed = [], []
            page.on("pageerror", lambda exc, page=page: page.errors.append(str(exc)))
            # What a page asked the server for and did not get (a script, a fetch, and the
            # icon, which the browser asks for on its own: only its console tells).
            page.on(
                "response",
                lambda response, page=page: (
                    response.status >= 400
                    and page.failed.append(f"{response.status} {response.url} (on {page.url})")
                ),
            )
            page.on(
                "console",
                lambda message, page=page: (
                    message.type == "error"
                    and page.failed.append(f"{message.text} {message.location} (on {page.url})")
                ),
            )
            if who != "visitor":
                sign_in(page, self.base, who)
            self.pages[key] = page
        return self.pages[key]

    def close(self):
        for page in self.pages.values():
            page.context.close()


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("load")


def wait_for_room(page) -> None:
    """Let the live room connect and render what it fetches before the page is checked."""
    if page.locator("#connection").count():
        page.locator(
            "#connection:not([data-state=offline]):not([data-state=connecting])"
        ).wait_for()
        page.wait_for_load_state("networkidle")


def axe(page) -> list[dict]:
    """axe-core's violations on the page as it stands."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html.slice(0, 160),
                                          summary: n.failureSummary}))}));
        }"""
    )


#: Colour is never the only signal: every status, vote choice, chart row and result says
#: what it means in text or a symbol, and the choices and rows of one vote differ in words.
SIGNALS = """
() => {
  const said = (el) => {
    const before = getComputedStyle(el, "::before").content;
    const symbol = before && !["none", "normal", '""'].includes(before) ? before : "";
    return (el.innerText || "").trim() || el.getAttribute("aria-label") || symbol.replace(/"/g, "").trim();
  };
  const shown = (el) => el.checkVisibility({ checkVisibilityCSS: true });
  const problems = [];
  const counts = { statuses: 0, choices: 0, rows: 0, folds: 0 };
  // A folded part shows that it opens: the browser's own marker, or one drawn before it.
  for (const el of document.querySelectorAll("details > summary")) {
    if (!shown(el)) continue;
    counts.folds++;
    const marker = getComputedStyle(el, "::before").content;
    const drawn = marker && !["none", "normal", '""'].includes(marker);
    if (!drawn && getComputedStyle(el).display !== "list-item")
      problems.push(`a folded part that does not show it opens: ${el.outerHTML.slice(0, 120)}`);
  }
  const signals = ".badge, span[class*='status-'], .vote-result, .presence-marker, .connection, "
    + ".motion-state, .topic-status, .msg-tag";
  for (const el of document.querySelectorAll(signals)) {
    if (!shown(el)) continue;
    counts.statuses++;
    if (!said(el)) problems.push(`says nothing but its colour: ${el.outerHTML.slice(0, 120)}`);
  }
  for (const box of document.querySelectorAll(".vote-box")) {
    for (const [selector, key, kind] of [["label.choice", "choices", "choice"], [".bar-row", "rows", "chart row"]]) {
      const texts = [...box.querySelectorAll(selector)].filter(shown).map((el) =>
        (el.querySelector(".bar-label") || el).innerText.trim());
      counts[key] += texts.length;
      if (texts.some((t) => !t)) problems.push(`a ${kind} without words in ${box.id}`);
      if (new Set(texts).size !== texts.length) problems.push(`${kind}s alike in words in ${box.id}: ${texts}`);
    }
  }
  return { problems, counts };
}
"""


def describe(violation: dict) -> str:
    lines = [f"[{violation['impact']}] {violation['id']}: {violation['help']}"]
    for node in violation["nodes"][:6]:
        lines.append(f"    {node['target']}  {node['html']}")
        if node["summary"]:
            lines.append("      " + node["summary"].replace("\n", "\n      ")[:400])
    return "\n".join(lines)


_shared: dict = {}


def shared_world(request, tmp_path_factory) -> World:
    """One demo server and one prepared world for all the accessibility, phone and keyboard
    tests of a run (starting a server costs more than the checks of a whole page set)."""
    if "world" not in _shared:
        mode = os.environ.get("YITING_TEST_MODE", "eventlet")
        server = LiveServer(tmp_path_factory.mktemp("a11y"), mode)
        server.prepare()
        request.config.add_cleanup(server.stop)
        server.start()
        _shared["world"] = build_world(server)
    return _shared["world"]


@pytest.fixture(scope="module")
def world(request, tmp_path_factory):
    return shared_world(request, tmp_path_factory)


@pytest.fixture(scope="module")
def people(browser, world):
    crowd = People(browser, world.base, bypass_csp=True)
    yield crowd
    crowd.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("who", ["visitor", "alice", "chair"])
def test_every_page_has_no_serious_axe_violations(world, people, who, lang):
    started = time.monotonic()
    page = people.page(who, lang)
    blocking, others, checked = [], [], []
    seen = {"statuses": 0, "choices": 0, "rows": 0, "folds": 0}
    for name, path in world.pages(who):
        visit(page, world.base + path)
        assert page.get_attribute("html", "lang") == HTML_LANG[lang], (name, lang)
        # the language and text-size switches are on every page
        assert page.locator(".prefs a[href^='/text/']").count() == 1, name
        assert page.locator(".prefs a[href^='/lang/']").count() == 1, name
        wait_for_room(page)
        signals = page.evaluate(SIGNALS)
        blocking += [f"{who}/{lang} {name} ({path}): {p}" for p in signals["problems"]]
        for key, count in signals["counts"].items():
            seen[key] += count
        for violation in axe(page):
            line = f"{who}/{lang} {name} ({path}): {describe(violation)}"
            (blocking if violation["impact"] in BLOCKING else others).append(line)
        checked.append(name)
    print(
        f"\naxe: {who}, {lang}: {len(checked)} pages in {time.monotonic() - started:.1f}s: {', '.join(checked)}"
    )
    for line in others:
        print("  minor:", line)
    assert page.errors == [], page.errors
    assert not blocking, "\n".join(blocking)
    # the signals were there to check: statuses everywhere, and the open vote's ballot and
    # chart (with live results) for alice, who has a vote
    assert seen["statuses"] >= 10, seen
    if who != "visitor":
        assert seen["folds"] >= 3, seen
    if who == "alice":
        assert seen["choices"] >= 3 and seen["rows"] >= 3, seen


def test_a_folded_part_shows_that_it_opens_and_that_it_is_open(world, people):
    """Before a folded part's title is a triangle (the browser's own is gone with the flex
    box the title is laid out in): pointing right while the part is closed, turned down
    once a tap opens it; with reduced motion, at once. It is not read aloud."""
    page = people.page("chair", "en")
    page.emulate_media(reduced_motion="reduce")
    visit(page, f"{world.base}/consultations/{world.ids['live']}")
    wait_for_room(page)
    summary = page.locator("details > summary", has_text="Details, agenda").first

    def marker():
        return summary.evaluate(
            "(el) => { const s = getComputedStyle(el, '::before');"
            " return [s.content, s.transform, s.transitionDuration]; }"
        )

    content, closed, duration = marker()
    assert content.startswith('"▸"') and content.endswith('/ ""'), content
    assert (closed, duration) == ("none", "0s")
    summary.click()
    assert summary.evaluate("(el) => el.parentElement.open") is True
    _, opened, _ = marker()
    # rotate(90deg): cos 0, sin 1
    values = [float(v) for v in opened.removeprefix("matrix(").removesuffix(")").split(",")]
    assert [round(v, 6) for v in values] == [0, 1, -1, 0, 0, 0], opened
    assert "▸" not in summary.evaluate("(el) => el.innerText")
    page.emulate_media(reduced_motion="no-preference")
