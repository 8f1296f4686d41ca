"""The base of every form: Flask-WTF's, with WTForms' own messages ("Not a valid integer
value.") translated from a catalogue read once per language.

Flask-WTF reads and parses WTForms' catalogue for every request, and each Socket.IO event
is one: 3% of the server's time while 440 ballots were cast (a tenth of each ballot)."""

from functools import cache

from babel import support
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path


@cache
def _catalogue(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form):
            locale = get_locale()
            return _catalogue(str(locale)) if locale is not None else None
