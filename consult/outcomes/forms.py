"""Forms for the outcome pages; the same classes check JSON payloads of the API.

Fields are lenient on purpose (``Optional``, generous lengths): the service checks each
value and refuses bad ones with a specific code (``invalid_stars``, ``invalid_percent``,
``reason_required`` …), so a kiosk gets the same answer as the web page.
"""

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from consult.core.forms import Form

SUMMARY_MAX = 20_000
TEXT_MAX = 2_000


class OutcomeForm(Form):
    """Draft (and, with a reason, correct) an outcome."""

    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    summary = TextAreaField(
        _l("Summary of the outcome (Markdown)"), validators=[Optional(), Length(max=SUMMARY_MAX)]
    )
    category = StringField(_l("Category"), validators=[Optional(), Length(max=64)])
    responsible = StringField(
        _l("Who carries it out (执行主体)"), validators=[Optional(), Length(max=200)]
    )
    responsible_user = StringField(
        _l("Account that may report progress (username, optional)"),
        validators=[Optional(), Length(max=64)],
    )
    due = StringField(_l("Due date"), validators=[Optional(), Length(max=10)])
    notice_days = IntegerField(_l("Notice period in days"), validators=[Optional()])
    minority_opinion = TextAreaField(
        _l("Add a minority opinion (optional)"), validators=[Optional(), Length(max=TEXT_MAX)]
    )


class CorrectionForm(OutcomeForm):
    reason = TextAreaField(
        _l("Reason for the correction (shown with the new version)"),
        validators=[Optional(), Length(max=TEXT_MAX)],
    )


class ObjectionForm(Form):
    reason = TextAreaField(
        _l("Your objection and its reason"), validators=[Optional(), Length(max=TEXT_MAX)]
    )


class AnswerForm(Form):
    answer = TextAreaField(_l("Answer (public)"), validators=[Optional(), Length(max=TEXT_MAX)])


class ProgressForm(Form):
    percent = IntegerField(_l("Progress in percent (0–100)"), validators=[Optional()])
    note = TextAreaField(_l("What was done"), validators=[Optional(), Length(max=TEXT_MAX)])


class RatingForm(Form):
    stars = IntegerField(_l("Your rating (1–5 stars)"), validators=[Optional()])
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=TEXT_MAX)])


class EmptyForm(Form):
    """A button that posts (publish, complete): only the CSRF token."""
