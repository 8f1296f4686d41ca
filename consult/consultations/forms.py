from flask_babel import lazy_gettext as _l
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from consult.core.forms import Form

from .models import ACCESS, FORMS, PARTICIPANT_ROLES

#: A vote's rules (``voting.rules``) as people read them: a consultation's default and a
#: vote's own rule are chosen from these.
THRESHOLD_LABELS = {
    "simple": _l("Simple: more yes than no"),
    "majority_cast": _l("Majority of ballots cast (abstentions count)"),
    "majority_eligible": _l("Majority of all eligible voters"),
    "two_thirds": _l("Two thirds of ballots cast"),
}


def choices_of(labels: dict) -> list[SelectChoice]:
    """The options of a select field from a ``{value: label}`` mapping, in its order."""
    return [SelectChoice(value, label) for value, label in labels.items()]


THRESHOLD_CHOICES = choices_of(THRESHOLD_LABELS)


class ConsultationForm(Form):
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=200)])
    description = TextAreaField(
        _l("Background material (Markdown)"), validators=[Optional(), Length(max=50_000)]
    )
    form = SelectField(_l("Meeting form"), choices=choices_of(FORMS), default="council")
    access = SelectField(_l("Who may take part"), choices=choices_of(ACCESS), default="open")
    scheduled_at = DateTimeLocalField(
        _l("Date and time"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    place = StringField(_l("Place (empty: online)"), validators=[Optional(), Length(max=200)])
    agenda = TextAreaField(
        _l("Agenda (one item per line)"), validators=[Optional(), Length(max=6000)]
    )
    seconds_required = IntegerField(
        _l("Seconders a motion needs"), default=1, validators=[Optional(), NumberRange(0, 50)]
    )
    default_threshold = SelectField(
        _l("Default rule for votes"), choices=THRESHOLD_CHOICES, default="simple"
    )


class ParticipantForm(Form):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=64)])
    role = SelectField(_l("Role"), choices=choices_of(PARTICIPANT_ROLES), default="voter")


class TransitionForm(Form):
    to = StringField(validators=[InputRequired(), Length(max=32)])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])
