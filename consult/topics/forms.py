"""Forms for pages and payloads for the API. The services check limits with stable codes;
the API payloads only check types, so that a too-long title is ``title_too_long``."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from consult.core.forms import Form

from .models import CATEGORY_NAME_MAX, DESCRIPTION_MAX, OPINION_MAX, REASON_MAX, TITLE_MAX

# --- pages ------------------------------------------------------------------------------------


class TopicForm(Form):
    title = StringField(
        _l("Title"),
        validators=[InputRequired(), Length(max=TITLE_MAX)],
        render_kw={"maxlength": TITLE_MAX},
    )
    description = TextAreaField(
        _l("What is the matter, and why should the community meet about it?"),
        validators=[Optional(), Length(max=DESCRIPTION_MAX)],
        render_kw={"maxlength": DESCRIPTION_MAX},
    )
    category = SelectField(_l("Category"), choices=[], validate_choice=False)


class ActionForm(Form):
    """A button that only needs the CSRF token (support)."""


class AcceptForm(Form):
    title = StringField(
        _l("Title of the consultation (empty: the topic's title)"),
        validators=[Optional(), Length(max=200)],
    )


class DeclineForm(Form):
    reason = TextAreaField(
        _l("Reason (the proposer and every member see it)"),
        validators=[Optional(), Length(max=REASON_MAX)],
        render_kw={"maxlength": REASON_MAX},
    )


class CategoryForm(Form):
    name = StringField(
        _l("Name"),
        validators=[InputRequired(), Length(max=CATEGORY_NAME_MAX)],
        render_kw={"maxlength": CATEGORY_NAME_MAX},
    )


class CategoryEditForm(Form):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=CATEGORY_NAME_MAX)])
    action = StringField(validators=[InputRequired(), Length(max=16)])


class AttendanceForm(Form):
    answer = StringField(validators=[InputRequired(), Length(max=8)])


class OpinionForm(Form):
    text = TextAreaField(
        _l("Your written opinion"),
        validators=[Optional(), Length(max=OPINION_MAX)],
        render_kw={"maxlength": OPINION_MAX},
    )


# --- API payloads -----------------------------------------------------------------------------


class TopicPayload(Form):
    title = StringField(validators=[Optional()])
    description = StringField(validators=[Optional()])


class AcceptPayload(Form):
    title = StringField(validators=[Optional()])


class DeclinePayload(Form):
    reason = StringField(validators=[Optional()])


class CategoryPayload(Form):
    name = StringField(validators=[Optional()])
    retired = BooleanField(validators=[Optional()])


class AttendancePayload(Form):
    answer = StringField(validators=[Optional()])


class OpinionPayload(Form):
    text = StringField(validators=[Optional()])


#: Choices for the attendance question, in the order shown.
ANSWER_ORDER = ("yes", "maybe", "no")
