"""Payloads of the room's Socket.IO events and API calls, and the page's composer form.

Field checks that carry their own error code (message length, empty message, reason,
speaking time) are made by the service, so every edge answers with the same code.
"""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional, Regexp

from consult.core.forms import Form

MAX_ID = 2**62
#: A client-made message id: letters, digits and ``-_.:``, as a UUID is.
CLIENT_ID = Regexp(r"^[A-Za-z0-9_.:-]{1,64}$", message=_l("Use 1–64 letters, digits or -_.:"))


class RoomPayload(Form):
    consultation_id = IntegerField(
        _l("Consultation"), validators=[InputRequired(), NumberRange(min=1, max=MAX_ID)]
    )


class JoinPayload(RoomPayload):
    last_seen_id = IntegerField(
        _l("Last seen message"), validators=[Optional(), NumberRange(min=0, max=MAX_ID)]
    )


class SendPayload(RoomPayload):
    # No length validator: the service answers message_too_long / empty_message.
    body = StringField(_l("Message"), validators=[Optional()])
    client_id = StringField(_l("Client message id"), validators=[InputRequired(), CLIENT_ID])
    announcement = BooleanField(_l("Announcement"))


class HidePayload(RoomPayload):
    message_id = IntegerField(
        _l("Message"), validators=[InputRequired(), NumberRange(min=1, max=MAX_ID)]
    )
    reason = StringField(_l("Reason"), validators=[Optional()])


class UserPayload(RoomPayload):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=64)])


class FloorModePayload(RoomPayload):
    mode = StringField(
        _l("Floor mode"),
        validators=[
            InputRequired(),
            AnyOf(["open", "moderated"], message=_l("The floor is “open” or “moderated”.")),
        ],
    )


class GiveFloorPayload(RoomPayload):
    username = StringField(_l("Username"), validators=[Optional(), Length(max=64)])
    seconds = IntegerField(_l("Speaking time"), validators=[Optional()])


class MinorityPayload(RoomPayload):
    message_id = IntegerField(
        _l("Message"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)]
    )
    text = StringField(_l("Opinion"), validators=[Optional()])
    motion_id = IntegerField(_l("Motion"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    username = StringField(_l("Whose opinion"), validators=[Optional(), Length(max=64)])


class MessagesQuery(Form):
    after = IntegerField(_l("After"), validators=[Optional(), NumberRange(min=0, max=MAX_ID)])
    limit = IntegerField(_l("Limit"), validators=[Optional(), NumberRange(min=1, max=500)])


class MessageBody(Form):
    """``POST /api/v1/consultations/<id>/messages``."""

    body = StringField(_l("Message"), validators=[Optional()])
    client_id = StringField(_l("Client message id"), validators=[Optional(), CLIENT_ID])


class ComposerForm(Form):
    """The page's composer; it works without JavaScript (a plain form post)."""

    body = TextAreaField(_l("Your message"), validators=[Optional()])
    client_id = HiddenField(validators=[Optional(), CLIENT_ID])
