from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Regexp

from consult.core.forms import Form

from .passwords import MAX_LENGTH, MIN_LENGTH

USERNAME_RE = r"^[a-z0-9][a-z0-9_.-]{2,31}$"


class UsernameMixin:
    username = StringField(
        _l("Username"),
        validators=[
            InputRequired(),
            Length(min=3, max=32),
            Regexp(
                USERNAME_RE,
                message=_l("Use 3–32 lower-case letters, digits, dots, dashes or underscores."),
            ),
        ],
    )


class LoginForm(Form):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=MAX_LENGTH)])


class TokenForm(LoginForm):
    label = StringField(_l("Label"), validators=[Length(max=64)])


class RegisterForm(UsernameMixin, Form):
    display_name = StringField(
        _l("Display name"), validators=[InputRequired(), Length(min=1, max=64)]
    )
    password = PasswordField(
        _l("Password"), validators=[InputRequired(), Length(min=MIN_LENGTH, max=MAX_LENGTH)]
    )
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[InputRequired(), EqualTo("password", message=_l("Passwords differ."))],
    )
