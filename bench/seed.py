"""Seed a benchmark database (run with the server's environment: YITING_DATA / DATABASE_URL).

    python bench/seed.py users N      → N residents of the demo community with API tokens,
                                        voters of its consultation;
                                        prints a JSON list of {"username", "token"}
    python bench/seed.py notice N     → N published outcomes on the notice board (one
                                        published through the services, the rest in bulk);
                                        prints {"detail": <outcome id>}

Passwords are hashed once and shared: this is load data, not accounts for people.
"""

import json
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consult import create_app  # noqa: E402
from consult.accounts.models import ApiToken, User
from consult.accounts.passwords import hash_password
from consult.accounts.service import _digest
from consult.communities.models import Community, Membership
from consult.consultations.models import Participant
from consult.extensions import db


def seed_users(count: int) -> list[dict]:
    community = db.session.scalar(sa.select(Community).where(Community.slug == "demo"))
    shared = hash_password(secrets.token_urlsafe(16))
    out = []
    for n in range(count):
        username = f"bench{n:05d}"
        user = User(username=username, display_name=f"Bench {n}", password_hash=shared)
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(community_id=community.id, user_id=user.id))
        # Invited as voters of the demo consultation, as a meeting's residents are before it
        # starts (a member of an open consultation would otherwise become one on joining).
        db.session.add(Participant(consultation_id=1, user_id=user.id, role="voter"))
        token = secrets.token_urlsafe(32)
        db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token), label="bench"))
        out.append({"username": username, "token": token})
    db.session.commit()
    return out


def seed_notice(count: int) -> dict:
    from consult.consultations import service as consultations
    from consult.consultations.models import Consultation
    from consult.core.time import utcnow
    from consult.outcomes import service as outcomes
    from consult.outcomes.models import Outcome, OutcomeVersion

    chair = db.session.scalar(sa.select(User).where(User.username == "chair"))
    demo = db.session.get(Consultation, 1)
    consultations.transition(chair, demo, "closed")
    real = outcomes.draft_outcome(
        chair, demo, summary="南门空地改建为停车棚。 The lot becomes a bicycle shed.",
        responsible="居委会 Residents' committee",
    )  # fmt: skip
    version = outcomes.publish_outcome(chair, real)
    now = utcnow()
    rows = count - 1
    db.session.execute(
        Consultation.__table__.insert(),
        [
            {
                "community_id": demo.community_id,
                "title": f"议题 {n} Topic {n}",
                "description": "",
                "form": "council",
                "access": "open",
                "status": "outcome_published",
                "place": "",
                "seconds_required": 1,
                "default_threshold": "simple",
                "default_secret": False,
                "created_by_id": chair.id,
                "created_at": now,
            }  # fmt: skip
            for n in range(rows)
        ],
    )
    ids = db.session.scalars(
        sa.select(Consultation.id).where(Consultation.id != demo.id).order_by(Consultation.id)
    ).all()
    categories = ("环境 Environment", "交通 Traffic", "安全 Safety")
    db.session.execute(
        Outcome.__table__.insert(),
        [
            {
                "consultation_id": cid,
                "community_id": demo.community_id,
                "status": ("published", "implementing", "completed")[n % 3],
                "title": f"议题 {n} Topic {n}",
                "category": categories[n % 3],
                "summary": f"第{n}号协商结果：加装路灯 outcome number {n}: more street lights",
                "responsible": "居委会",
                "notice_days": 7,
                "decisions": [],
                "search_text": f"议题 {n} topic {n} 第{n}号协商结果：加装路灯 outcome number {n}",
                "current_version": 1,
                "fingerprint": version.fingerprint,
                "created_by_id": chair.id,
                "created_at": now,
                "updated_at": now,
                "published_at": now - timedelta(minutes=n + 1),
                "notice_until": now + timedelta(days=7),
            }  # fmt: skip
            for n, cid in enumerate(ids)
        ],
    )
    outcome_ids = db.session.scalars(
        sa.select(Outcome.id).where(Outcome.id != real.id).order_by(Outcome.id)
    ).all()
    db.session.execute(
        OutcomeVersion.__table__.insert(),
        [
            {
                "outcome_id": oid,
                "version": 1,
                "record": version.record,
                "fingerprint": version.fingerprint,
                "published_at": now,
                "published_by_id": chair.id,
            }  # fmt: skip
            for oid in outcome_ids
        ],
    )
    db.session.commit()
    return {"detail": real.id}


if __name__ == "__main__":
    app = create_app({"SOCKETIO_ASYNC_MODE": "threading"})
    with app.app_context():
        what, count = sys.argv[1], int(sys.argv[2])
        result = seed_users(count) if what == "users" else seed_notice(count)
    json.dump(result, sys.stdout)
