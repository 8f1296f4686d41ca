"""The demo community: ``flask --app app demo``."""

import click
import sqlalchemy as sa

from consult import audit
from consult.extensions import db

DEMO_SLUG = "demo"
DEMO_PASSWORD = "yiting-demo"  # noqa: S105 — demo only; the sign-in page says so
RESIDENTS = [
    ("alice", "王爱丽 Alice"),
    ("bob", "李博 Bob"),
    ("carol", "陈卡罗 Carol"),
    ("dave", "赵大伟 Dave"),
    ("erin", "孙艾琳 Erin"),
]

DESCRIPTION = """\
小区南门外的空地目前堆放杂物。居委会收到多位居民建议，拟将其改造为**休闲小广场**或**非机动车停车棚**。

The empty lot outside the south gate is full of clutter. Residents have suggested turning it
into a **small leisure square** or a **covered bicycle shed**.

- 预算 Budget: 约 8 万元 (from the community fund)
- 工期 Works: about 6 weeks
"""


def is_demo(slug: str) -> bool:
    from consult.communities.models import Community

    return db.session.scalar(sa.select(Community.id).where(Community.slug == slug)) is not None


def _add_membership(actor, community, user, role) -> None:
    from consult.communities.models import Membership

    member = Membership(community_id=community.id, user_id=user.id, role=role)
    db.session.add(member)
    db.session.flush()
    audit.record(actor, "membership.created", member, username=user.username, role=role)


def load_demo():
    """Create the demo community, its people and one live consultation."""
    from consult.accounts.models import User
    from consult.accounts.service import create_user
    from consult.communities.models import Community
    from consult.consultations import service as consultations

    chair = create_user("chair", "张主任 Chair Zhang", DEMO_PASSWORD)
    community = Community(slug=DEMO_SLUG, name="示范社区 Demo Community")
    db.session.add(community)
    db.session.flush()
    audit.record(None, "community.created", community, slug=DEMO_SLUG, demo=True)
    _add_membership(chair, community, chair, "admin")
    people: list[User] = []
    for username, name in RESIDENTS:
        user = create_user(username, name, DEMO_PASSWORD)
        _add_membership(chair, community, user, "resident")
        people.append(user)
    db.session.commit()

    consultation = consultations.create_consultation(
        chair,
        community,
        title="南门空地怎么用？ What to do with the lot by the south gate?",
        description=DESCRIPTION,
        form="council",
        access="open",
        place="社区服务中心二楼 Community centre, 2nd floor (and online)",
        agenda=["情况介绍 Background", "讨论 Discussion", "表决 Vote"],
    )
    for user in people:
        consultations.set_participant(chair, consultation, user.username, "voter")
    consultations.transition(chair, consultation, "announced")
    consultations.transition(chair, consultation, "live")
    return consultation


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
def demo_command(if_empty):
    """Load the demo community (示范社区) with a live consultation."""
    from consult.accounts.models import User

    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        if if_empty:
            click.echo("database not empty: demo not loaded")
            return
        if is_demo(DEMO_SLUG):
            raise click.ClickException("the demo community exists already")
    consultation = load_demo()
    click.echo(
        f"demo loaded: community '{DEMO_SLUG}', consultation {consultation.id} is live; "
        f"accounts chair, alice, bob, carol, dave, erin with password '{DEMO_PASSWORD}'"
    )
