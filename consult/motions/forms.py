"""Forms for motions and votes: the same classes check HTML forms, JSON bodies and Socket.IO
event data (through :func:`consult.core.payload.parse`). Lengths and choices are checked by
the services, so that each limit has its own stable error code (``reason_too_long``…)."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    FieldList,
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.validators import NumberRange, Optional

from consult.consultations.forms import THRESHOLD_LABELS
from consult.core.forms import Form

THRESHOLD_CHOICES = list(THRESHOLD_LABELS.items())
QUORUM_CHOICES = [
    ("", _l("No quorum required")),
    ("1/3", _l("One third of eligible voters")),
    ("1/2", _l("Half of eligible voters")),
    ("2/3", _l("Two thirds of eligible voters")),
]


class MotionPayload(Form):
    """``{title, text}`` for a new motion or an edit."""

    title = StringField(_l("Title"), validators=[Optional()])
    text = TextAreaField(_l("Text (Markdown)"), validators=[Optional()])


class ReasonPayload(Form):
    """``{reason?}`` (withdraw, table, reject an amendment)."""

    reason = TextAreaField(_l("Reason"), validators=[Optional()])


class AmendmentPayload(Form):
    text = TextAreaField(_l("Proposed new text (Markdown)"), validators=[Optional()])


class VotePayload(Form):
    """``{kind, options?, secret, threshold, quorum, results, deadline?}``."""

    kind = StringField(validators=[Optional()])
    options = FieldList(StringField())
    secret = BooleanField()
    threshold = StringField(validators=[Optional()])
    quorum = StringField(validators=[Optional()])
    results = StringField(validators=[Optional()])
    deadline = StringField(validators=[Optional()])


class BallotPayload(Form):
    """``{choice, reason?}``."""

    choice = StringField(validators=[Optional()])
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional()])


class OpenVoteForm(Form):
    """The chair's form in the page (works without JavaScript). The template draws the
    choices; the service checks every value and names what is wrong."""

    kind = StringField(validators=[Optional()])
    options = TextAreaField(_l("Options, one per line (2 to 10)"), validators=[Optional()])
    secret = BooleanField(_l("Secret ballot (无记名)"))
    threshold = StringField(validators=[Optional()])
    quorum = StringField(validators=[Optional()])
    results = StringField(validators=[Optional()])
    duration_minutes = IntegerField(
        _l("Closes by itself after (minutes, optional)"),
        validators=[Optional(), NumberRange(1, 30 * 24 * 60)],
    )


# --- from a JSON body or socket event to a service call ---------------------------------------


def motion_fields(raw: dict, partial: bool = False) -> dict:
    """``title`` and ``text`` of a payload; for an edit (``partial``) only those sent."""
    from consult.core.payload import parse

    form = parse(MotionPayload, raw)
    fields = {}
    for name in ("title", "text"):
        if not partial or name in raw:
            fields[name] = getattr(form, name).data
    return fields


def reason_of(raw: dict) -> str | None:
    from consult.core.payload import parse

    return parse(ReasonPayload, raw).reason.data


def amendment_text(raw: dict) -> str | None:
    from consult.core.payload import parse

    return parse(AmendmentPayload, raw).text.data


def ballot_fields(raw: dict) -> dict:
    """``choice`` and ``reason``; a choice that is not text is an invalid choice."""
    from flask_babel import gettext as _

    from consult.core.payload import parse
    from consult.errors import Invalid

    if "choice" in raw and not isinstance(raw["choice"], str):
        raise Invalid("invalid_choice", _("The choice is yes, no, abstain or an option's label."))
    if raw.get("reason") is not None and not isinstance(raw["reason"], str):
        raise Invalid("invalid_type", _("Field “%(name)s” must be text.", name="reason"))
    form = parse(BallotPayload, raw)
    return {"choice": form.choice.data, "reason": form.reason.data}


def vote_settings(raw: dict, timezone: str) -> dict:
    """The keyword arguments of ``open_vote`` from ``{kind, options?, secret, threshold,
    quorum, results, deadline?}``; absent fields keep the consultation's defaults."""
    from datetime import datetime

    from flask_babel import gettext as _

    from consult.core.payload import parse
    from consult.core.time import to_storage
    from consult.errors import Invalid

    if "options" in raw and raw["options"] is not None:
        options = raw["options"]
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise Invalid("invalid_options", _("“options” is a list of 2 to 10 labels."))
        if len(options) > 50:
            raise Invalid("invalid_options", _("An option vote has 2 to 10 options."))
    if raw.get("quorum") is not None and not isinstance(raw["quorum"], str):
        raise Invalid(
            "invalid_quorum", _("The quorum is null or a fraction such as “1/2” or “2/3”.")
        )
    if raw.get("secret") is not None and not isinstance(raw["secret"], bool):
        raise Invalid("invalid_secret", _("“secret” is true or false."))
    for name, code in (
        ("kind", "invalid_kind"),
        ("threshold", "invalid_threshold"),
        ("results", "invalid_results"),
        ("deadline", "invalid_deadline"),
    ):
        if raw.get(name) is not None and not isinstance(raw[name], str):
            raise Invalid(code, _("Field “%(name)s” must be text.", name=name))  # fmt: skip
    form = parse(VotePayload, raw)
    settings = {
        "kind": form.kind.data or None,
        "options": list(form.options.data) if raw.get("options") is not None else None,
        "secret": raw.get("secret"),
        "threshold": form.threshold.data or None,
        "results": form.results.data or None,
    }
    if "quorum" in raw:
        settings["quorum"] = raw["quorum"] or None
    deadline = form.deadline.data
    if deadline:
        try:
            parsed = datetime.fromisoformat(deadline.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise Invalid(
                "invalid_deadline", _("The deadline is an ISO 8601 date and time.")
            ) from exc
        settings["deadline"] = to_storage(parsed, timezone)
    return settings
