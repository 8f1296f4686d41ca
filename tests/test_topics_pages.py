"""Topic pages: the list, posting, supporting, the chair's decision and the category admin."""

import html
import re

import pytest
import sqlalchemy as sa

from consult.extensions import db
from consult.topics.models import Category, Topic, TopicSupport

EN = {"Accept-Language": "en"}


@pytest.fixture
def site(demo, client, auth):
    """Sign in as someone, in English."""

    class Site:
        def as_(self, username):
            auth.logout()
            auth.login(username)
            return self

        def get(self, path):
            response = client.get(path, headers=EN)
            return response, html.unescape(response.get_data(as_text=True))

        def post(self, path, data=None):
            return client.post(path, data=data or {}, headers=EN)

    return Site()


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def post_topic(site, title="Dog waste bins", **fields):
    return site.post("/topics/new?community=demo", {"title": title, **fields})


def test_visitors_are_asked_to_sign_in(site, client):
    response, page = site.get("/topics")
    assert response.status_code == 200
    assert "Sign in to see and propose topics" in page
    site.as_("alice")
    post_topic(site)
    topic_id = db.session.scalar(sa.select(Topic.id))
    site_client_logout = client.post("/logout")
    assert site_client_logout.status_code in (200, 302)
    response, page = site.get(f"/topics/{topic_id}")
    assert response.status_code == 401
    assert "Dog waste bins" not in page
    assert "Sign in to see and propose topics" in page


def test_post_support_and_list(site):
    site.as_("alice")
    response = post_topic(site, description="Near the **playground**.")
    assert response.status_code == 302
    topic_id = db.session.scalar(sa.select(Topic.id))
    assert response.headers["Location"].endswith(f"/topics/{topic_id}")
    response, page = site.get(f"/topics/{topic_id}")
    assert "Dog waste bins" in page
    assert "Open for support" in page
    assert "<strong>playground</strong>" in page
    assert "You proposed this topic" in page
    assert 'id="support-button"' not in page

    site.as_("bob")
    response, page = site.get(f"/topics/{topic_id}")
    assert 'id="support-button"' in page
    assert site.post(f"/topics/{topic_id}/support").status_code == 302
    response, page = site.get(f"/topics/{topic_id}")
    assert "You support this topic." in page
    assert "1 member supports this topic" in page
    # A second support from the page: refused with a message, still one row.
    site.post(f"/topics/{topic_id}/support")
    response, page = site.get(f"/topics/{topic_id}")
    assert "You already support this topic." in page
    assert count(TopicSupport) == 1

    site.as_("carol")
    site.post(f"/topics/{topic_id}/support")
    site.post("/topics/new?community=demo", {"title": "Later topic"})
    response, page = site.get("/topics")
    text = text_of(page)
    assert text.index("Dog waste bins") < text.index("Later topic")  # most supported first
    assert "2 supporters" in text
    response, page = site.get("/topics?sort=new&community=demo")
    text = text_of(page)
    assert text.index("Later topic") < text.index("Dog waste bins")
    response, page = site.get("/topics?status=declined")
    assert "Dog waste bins" not in page and "No topics here yet." in page


def test_bad_titles_from_the_form_store_nothing(site):
    site.as_("alice")
    response = post_topic(site, title="")
    assert response.status_code == 422
    response = post_topic(site, title="x" * 121)
    assert response.status_code == 422
    assert "120" in html.unescape(response.get_data(as_text=True))
    assert count(Topic) == 0


def test_categories_in_the_form(site):
    site.as_("chair")
    site.post("/communities/demo/categories", {"name": "Greenery 绿化"})
    site.as_("alice")
    response, page = site.get("/topics/new?community=demo")
    assert "Greenery 绿化" in page and 'name="category"' in page
    response = post_topic(site, category="999")
    assert response.status_code == 422
    assert "There is no such category in this community." in html.unescape(
        response.get_data(as_text=True)
    )
    assert count(Topic) == 0
    category_id = db.session.scalar(sa.select(Category.id))
    assert post_topic(site, category=str(category_id)).status_code == 302
    topic_id = db.session.scalar(sa.select(Topic.id))
    response, page = site.get(f"/topics/{topic_id}")
    assert "Greenery 绿化" in page


def test_non_member_cannot_see_or_post(site, make_user, auth, client):
    make_user("outsider")
    auth.logout()
    auth.login("outsider", "password-123")
    response = client.get("/topics?community=demo", headers=EN)
    assert response.status_code == 403
    response = client.post("/topics/new?community=demo", data={"title": "Sneak"}, headers=EN)
    assert response.status_code == 403
    assert count(Topic) == 0


def test_accepting_links_topic_and_consultation_both_ways(site):
    site.as_("alice")
    post_topic(site, description="Bins by the west lawn.")
    topic_id = db.session.scalar(sa.select(Topic.id))
    site.as_("chair")
    response, page = site.get(f"/topics/{topic_id}")
    assert 'id="accept-button"' in page and 'id="decline-button"' in page
    response = site.post(f"/topics/{topic_id}/accept", {"title": ""})
    assert response.status_code == 302
    db.session.expire_all()
    topic = db.session.get(Topic, topic_id)
    assert topic.status == "accepted" and topic.consultation_id
    cid = topic.consultation_id
    assert response.headers["Location"].endswith(f"/consultations/{cid}")
    # The consultation page (a draft, seen by its chair) says where it came from.
    response, page = site.get(f"/consultations/{cid}")
    assert response.status_code == 200
    assert re.search(rf'From topic:\s*<a href="/topics/{topic_id}">Dog waste bins</a>', page)
    # The topic page links to the consultation.
    response, page = site.get(f"/topics/{topic_id}")
    assert f'href="/consultations/{cid}"' in page
    assert "Accepted" in page
    # The proposer sees the result; the draft itself is not public until announced.
    site.as_("alice")
    response, page = site.get(f"/topics/{topic_id}")
    assert "It became the consultation “Dog waste bins”, being prepared" in page
    assert f'href="/consultations/{cid}"' not in page
    site.as_("chair")
    site.post(f"/consultations/{cid}/transition", {"to": "announced"})
    site.as_("alice")
    response, page = site.get(f"/topics/{topic_id}")
    assert f'href="/consultations/{cid}"' in page
    response, page = site.get(f"/consultations/{cid}")
    assert f'href="/topics/{topic_id}"' in page
    assert "Will you attend?" in page


def test_declining_needs_a_reason_and_shows_it(site):
    site.as_("alice")
    post_topic(site)
    topic_id = db.session.scalar(sa.select(Topic.id))
    site.as_("bob")
    response, page = site.get(f"/topics/{topic_id}")
    assert 'id="decline-button"' not in page
    site.post(f"/topics/{topic_id}/decline", {"reason": "Not now"})
    db.session.expire_all()
    assert db.session.get(Topic, topic_id).status == "open"
    site.as_("chair")
    site.post(f"/topics/{topic_id}/decline", {"reason": ""})
    response, page = site.get(f"/topics/{topic_id}")
    assert "Say why the topic is declined" in page
    db.session.expire_all()
    assert db.session.get(Topic, topic_id).status == "open"
    site.post(f"/topics/{topic_id}/decline", {"reason": "The city installs bins in May."})
    site.as_("alice")
    response, page = site.get(f"/topics/{topic_id}")
    assert "Declined" in page
    assert "The city installs bins in May." in page
    response, page = site.get("/topics")
    assert "Declined" in page


def test_category_admin_page(site, client):
    site.as_("alice")
    response, _page = site.get("/communities/demo/categories")
    assert response.status_code == 403
    site.as_("chair")
    response, page = site.get("/communities/demo/categories")
    assert response.status_code == 200 and "No categories yet" in page
    assert site.post("/communities/demo/categories", {"name": "Parking"}).status_code == 302
    response = site.post("/communities/demo/categories", {"name": "parking"})
    assert response.status_code == 409
    assert count(Category) == 1
    category_id = db.session.scalar(sa.select(Category.id))
    site.post(f"/communities/demo/categories/{category_id}", {"action": "rename", "name": "停车"})
    site.post(f"/communities/demo/categories/{category_id}", {"action": "retire"})
    db.session.expire_all()
    category = db.session.get(Category, category_id)
    assert (category.name, category.retired) == ("停车", True)
    response, page = site.get("/communities/demo/categories")
    assert "Retired" in page and "Offer again" in page
    site.post(f"/communities/demo/categories/{category_id}", {"action": "restore"})
    db.session.expire_all()
    assert db.session.get(Category, category_id).retired is False
    response, page = site.get("/topics?community=demo")
    assert 'href="/communities/demo/categories"' in page


def test_pages_render_in_chinese_by_default(site, client):
    site.as_("alice")
    post_topic(site)
    topic_id = db.session.scalar(sa.select(Topic.id))
    for path in ("/topics", f"/topics/{topic_id}", "/topics/new?community=demo", "/notifications"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert 'lang="zh-Hans"' in response.get_data(as_text=True)
