"""The base of every form: Flask-WTF's, with WTForms' own messages ("Not a valid integer
value.") translated from a catalogue read once per language.

Flask-WTF reads and parses WTForms' catalogue for every request, and each Socket.IO event
is one: 3% of the server's time while 440 ballots were cast (a tenth of each ballot). And
the reader's language is looked up only when a message is made: a form that is valid (a
message sent in the room) needs none, and the lookup (a locale parsed, its data file looked
for on disk) was a twentieth of that event."""

from functools import cache

from babel import support
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path


@cache
def _catalogue(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def _in_the_readers_language() -> support.NullTranslations:
    locale = get_locale()
    return _catalogue(str(locale)) if locale is not None else support.NullTranslations()


class _Translations:
    """What WTForms asks for its messages, in the reader's language when it asks."""

    def gettext(self, string: str) -> str:
        return _in_the_readers_language().gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _in_the_readers_language().ngettext(singular, plural, n)


_TRANSLATIONS = _Translations()


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return _TRANSLATIONS
