from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from consult.accounts.forms import UsernameMixin
from consult.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from consult.core.forms import Form

ROLE_CHOICES = [
    SelectChoice("resident", _l("Resident")),
    SelectChoice("chair", _l("Chair (committee member)")),
    SelectChoice("admin", _l("Community admin")),
]


class MemberForm(UsernameMixin, Form):
    """Register a resident, or add an existing account, to a community."""

    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=64)])
    password = PasswordField(
        _l("Password"), validators=[Optional(), Length(min=MIN_LENGTH, max=MAX_LENGTH)]
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="resident")


class RoleForm(Form):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[InputRequired()])


class ImportForm(Form):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class CommunityForm(Form):
    slug = StringField(
        _l("Short name (in addresses)"),
        validators=[InputRequired(), Regexp(r"^[a-z0-9][a-z0-9-]{1,39}$")],
    )
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=100)])
    timezone = StringField(_l("Time zone"), default="Asia/Shanghai", validators=[Length(max=64)])
