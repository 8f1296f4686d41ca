"""Minutes (会议纪要) of a closed consultation: attendance with times, agenda, written
opinions, the transcript, motions with revisions and amendments, votes with settings and
results, minority opinions — as a dict (the JSON download and the page) and as Markdown.

The transcript keeps hidden messages in place, marked; their text is given only to the
chair and the secretary of the consultation.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from consult.consultations import service as consultations
from consult.consultations.models import FORMS, Consultation
from consult.core.time import isoformat, utcnow, zone
from consult.errors import Conflict

from . import service

SCHEMA = "yiting.minutes/1"
_HIDDEN_TEXT_KEYS = ("body", "text", "html", "body_html", "meta")


def require_minutes(viewer, consultation: Consultation) -> None:
    consultations.require_view(viewer, consultation)
    if consultation.status not in service.CLOSED_STATUSES:
        raise Conflict("consultation_not_closed", _("Minutes exist once the room has closed."))


def sees_hidden(viewer, consultation: Consultation) -> bool:
    """Only the chair and the secretary read the text of hidden messages."""
    return consultations.role_of(viewer, consultation) in ("chair", "secretary")


def _plain(value):
    """A JSON-ready copy (model rows through their ``to_dict``, times as ISO 8601)."""
    if hasattr(value, "to_dict") and not isinstance(value, dict):
        value = value.to_dict()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return isoformat(value)
    return value


def _call(module: str, name: str, *args, **kwargs):
    function = service._optional(module, name)
    return function(*args, **kwargs) if function else None


def _transcript(consultation: Consultation, viewer) -> list[dict]:
    messages = _call("consult.room.service", "transcript", consultation, viewer) or []
    privileged = sees_hidden(viewer, consultation)
    out = []
    for message in _plain(list(messages)):
        if not isinstance(message, dict):
            continue
        if message.get("hidden") and not privileged:
            for key in _HIDDEN_TEXT_KEYS:
                if key in message:
                    message[key] = None
        out.append(message)
    return out


def _written_opinions(consultation: Consultation) -> list:
    found = _call("consult.topics.service", "written_opinions", consultation)
    if found is None:
        found = _call("consult.topics.announcement", "written_opinions", consultation)
    return _plain(list(found or []))


def _motions(consultation: Consultation) -> list:
    motions_of = service._optional("consult.motions.service", "motions_of")
    motion_to_dict = service._optional("consult.motions.service", "motion_to_dict")
    if not motions_of or not motion_to_dict:
        return []
    return [_plain(motion_to_dict(m, with_history=True)) for m in motions_of(consultation)]


def _votes(consultation: Consultation, viewer) -> list:
    votes_of = service._optional("consult.motions.service", "votes_of")
    vote_to_dict = service._optional("consult.motions.service", "vote_to_dict")
    if not votes_of or not vote_to_dict:
        return []
    return [_plain(vote_to_dict(v, viewer=viewer)) for v in votes_of(consultation)]


def _minority_opinions(consultation: Consultation) -> list[dict]:
    outcome = service.outcome_for(consultation)
    if outcome is not None:
        carried = [o.to_record() for o in service.minority_opinions(outcome)]
        if carried:
            return carried
    return [
        {k: v for k, v in o.items() if k != "key"}
        for o in service.collect_minority_opinions(consultation)
    ]


def build_minutes(consultation: Consultation, viewer) -> dict:
    """The minutes as plain data (also the JSON download)."""
    outcome = service.outcome_for(consultation)
    community = consultation.community
    return {
        "schema": SCHEMA,
        "generated_at": isoformat(utcnow()),
        "consultation": {
            "id": consultation.id,
            "title": consultation.title,
            "community": {"slug": community.slug, "name": community.name},
            "timezone": community.timezone,
            "form": consultation.form,
            "access": consultation.access,
            "status": consultation.status,
            "place": consultation.place,
            "scheduled_at": isoformat(consultation.scheduled_at),
            "announced_at": isoformat(consultation.announced_at),
            "opened_at": isoformat(consultation.opened_at),
            "closed_at": isoformat(consultation.closed_at),
            "description": consultation.description,
        },
        "agenda": [item.title for item in consultation.agenda_items],
        "participants": [p.to_dict() for p in consultations.participants(consultation)],
        "attendance": _plain(list(_call("consult.room.service", "attendance", consultation) or [])),
        "written_opinions": _written_opinions(consultation),
        "transcript": _transcript(consultation, viewer),
        "hidden_text_shown": sees_hidden(viewer, consultation),
        "motions": _motions(consultation),
        "votes": _votes(consultation, viewer),
        "minority_opinions": _minority_opinions(consultation),
        "outcome": (
            {"id": outcome.id, "status": outcome.status, "url": f"/notice/{outcome.id}"}
            if outcome is not None and outcome.is_public
            else None
        ),
    }


# --- Markdown ------------------------------------------------------------------------------


def _get(data, *keys, default=None):
    if not isinstance(data, dict):
        return default
    for key in keys:
        if data.get(key) not in (None, ""):
            return data[key]
    return default


def who(value) -> str:
    """A person as given by another feature: a username, or ``{username, display_name}``."""
    if isinstance(value, dict):
        name = value.get("display_name") or value.get("username") or ""
        if value.get("display_name") and value.get("username"):
            return f"{value['display_name']} ({value['username']})"
        return name
    return str(value) if value not in (None, "") else ""


class Clock:
    """ISO 8601 times shown in the community's time zone."""

    def __init__(self, tz: str):
        self.zone = zone(tz)

    def __call__(self, value) -> str:
        if value in (None, ""):
            return ""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value
        if value.tzinfo is None:
            from consult.core.time import as_utc

            value = as_utc(value)
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")


def _cell(value) -> str:
    return " ".join(str(value if value is not None else "").split()).replace("|", "\\|")


def _quote(text) -> list[str]:
    lines = str(text or "").splitlines() or [""]
    return ["> " + line for line in lines]


def choice_label(choice) -> str:
    from consult.motions.service import choice_label as label

    return label(choice if choice is None else str(choice))


def result_label(result) -> str:
    labels = {
        "adopted": _("Adopted"),
        "rejected": _("Rejected"),
        "no_quorum": _("No quorum"),
        "tie": _("Tie"),
    }
    if result in labels:
        return labels[result]
    return _("Chosen: %(option)s", option=result) if result else _("Not closed")


def to_markdown(minutes: dict) -> str:
    """The minutes as a Markdown document."""
    c = minutes["consultation"]
    clock = Clock(_get(c, "timezone") or "Asia/Shanghai")
    out = [f"# {_('Minutes')}: {c['title']}", ""]
    facts = [
        (_("Community"), c["community"]["name"]),
        (_("Meeting form"), str(FORMS.get(c["form"], c["form"]))),
        (_("Where"), c["place"] or _("Online")),
        (_("Scheduled"), clock(c["scheduled_at"])),
        (_("Room opened"), clock(c["opened_at"])),
        (_("Room closed"), clock(c["closed_at"])),
    ]
    out += [f"- **{k}**: {v}" for k, v in facts if v]
    out.append("")

    out += [f"## {_('Agenda')}", ""]
    out += [f"{n}. {item}" for n, item in enumerate(minutes["agenda"], start=1)] or [
        _("No agenda was set.")
    ]
    out.append("")

    out += [f"## {_('Participants')}", ""]
    out += [f"- {who(p)} — {p.get('role', '')}" for p in minutes["participants"]]
    out.append("")

    out += [f"## {_('Attendance')}", ""]
    if minutes["attendance"]:
        out += [f"| {_('Name')} | {_('Role')} | {_('Joined')} | {_('Left')} |", "|---|---|---|---|"]
        for a in minutes["attendance"]:
            person = a.get("user") or a.get("author") or a
            out.append(
                f"| {_cell(who(person))} | {_cell(_get(a, 'role'))} "
                f"| {_cell(clock(_get(a, 'joined_at', 'first_joined_at')))} "
                f"| {_cell(clock(_get(a, 'left_at', 'last_left_at')))} |"
            )
    else:
        out.append(_("Nobody joined the room."))
    out.append("")

    out += [f"## {_('Written opinions')}", ""]
    for opinion in minutes["written_opinions"]:
        out.append(
            f"**{who(_get(opinion, 'author', 'user'))}** ({clock(_get(opinion, 'created_at'))})"
        )
        out += _quote(_get(opinion, "text", default=""))
        out.append("")
    if not minutes["written_opinions"]:
        out += [_("None."), ""]

    out += [f"## {_('Transcript')}", ""]
    for m in minutes["transcript"]:
        when = clock(_get(m, "created_at", "at"))
        author = who(_get(m, "author", "user")) or _("System")
        text = _get(m, "body", "text", default="")
        if m.get("hidden"):
            reason = _get(m, "hidden_reason")
            mark = _("[hidden by the chair]") + (f" ({reason})" if reason else "")
            if text:
                out.append(f"- {when} **{author}**: {mark} {_cell(text)}")
            else:
                out.append(f"- {when} **{author}**: {mark}")
        else:
            out.append(f"- {when} **{author}**: {_cell(text)}")
    if not minutes["transcript"]:
        out.append(_("No messages."))
    out.append("")

    out += [f"## {_('Motions')}", ""]
    for motion in minutes["motions"]:
        title = _get(motion, "title", default="")
        state = _get(motion, "state", "status", default="")
        out += [f"### {_('Motion')} {motion.get('id', '')}: {title} ({state})", ""]
        proposer = who(_get(motion, "proposer", "author"))
        if proposer:
            out += [f"- **{_('Proposed by')}**: {proposer}", ""]
        out += _quote(_get(motion, "text", default="")) + [""]
        revisions = motion.get("revisions") or []
        if revisions:
            out += [f"#### {_('Revisions')}", ""]
            for r in revisions:
                number = _get(r, "number", "revision", default="")
                out.append(
                    f"- {_('Revision')} {number} ({clock(_get(r, 'created_at'))}, "
                    f"{who(_get(r, 'author'))}): {_cell(_get(r, 'title', default=''))}"
                )
                out += ["  " + line for line in _quote(_get(r, "text", default=""))]
            out.append("")
        amendments = motion.get("amendments") or []
        if amendments:
            out += [f"#### {_('Amendments')}", ""]
            for a in amendments:
                line = (
                    f"- {_('Amendment')} {a.get('id', '')} ({who(_get(a, 'proposer', 'author'))}, "
                    f"{_get(a, 'status', default='')})"
                )
                if _get(a, "reason"):
                    line += f" — {_('reason')}: {_cell(a['reason'])}"
                out.append(line)
                out += ["  " + line for line in _quote(_get(a, "text", default=""))]
            out.append("")
    if not minutes["motions"]:
        out += [_("No motions."), ""]

    out += [f"## {_('Votes')}", ""]
    for v in minutes["votes"]:
        out += [f"### {_('Vote')} {v.get('id', '')}: {_get(v, 'title', default='')}", ""]
        settings = [
            (_("Ballot"), _("secret") if v.get("secret") else _("open (named)")),
            (_("Rule"), _get(v, "rule_text", "threshold", default="")),
            (_("Quorum"), v.get("quorum") or _("none")),
            (_("Eligible voters"), service._count(v.get("eligible"))),
            (_("Ballots cast"), v.get("ballots_cast")),
            (_("Result"), result_label(v.get("result"))),
        ]
        out += [f"- **{k}**: {val}" for k, val in settings if val not in (None, "")]
        counts = v.get("counts") or {}
        if counts:
            out += ["", f"| {_('Choice')} | {_('Count')} |", "|---|---|"]
            out += [f"| {_cell(choice_label(k))} | {n} |" for k, n in counts.items()]
        receipts = v.get("receipts") or []
        if receipts:
            out += ["", f"#### {_('Receipts')}", ""]
            out += [f"- `{_cell(r.get('receipt'))}` {_cell(choice_label(r.get('choice')))}"
                    for r in receipts]  # fmt: skip
        out.append("")
    if not minutes["votes"]:
        out += [_("No votes."), ""]

    out += [f"## {_('Minority opinions')}", ""]
    for o in minutes["minority_opinions"]:
        author = o.get("author") or _("anonymous")
        choice = f", {choice_label(o['choice'])}" if o.get("choice") else ""
        out.append(f"- ({o.get('source', '')}, {author}{choice}) {_cell(o.get('text'))}")
    if not minutes["minority_opinions"]:
        out.append(_("None."))
    out.append("")
    out.append(f"_{_('Generated')} {clock(minutes['generated_at'])}_")
    return "\n".join(out) + "\n"
