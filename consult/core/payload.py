"""Parsing untrusted payloads (JSON bodies and Socket.IO event data) through WTForms.

The same form classes serve HTML forms, the JSON API and Socket.IO events. JSON values are
type-checked against the field before WTForms sees them, so ``{"title": {"x": 1}}`` is
refused as a wrong type instead of being turned into a string.
"""

from __future__ import annotations

from functools import cache

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms.fields import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    IntegerField,
    SelectMultipleField,
)

from consult.errors import BadRequest, Invalid

MAX_DEPTH = 8


def check_text(value: str) -> str:
    """Refuse text that no database stores faithfully: NUL bytes and lone surrogates; and
    close directional overrides the text leaves open (see :func:`balance_bidi`)."""
    if "\x00" in value:
        raise Invalid("invalid_text", _("Text must not contain NUL characters."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Invalid("invalid_text", _("Text is not valid Unicode.")) from exc
    return balance_bidi(value)


def clean_text(
    value, name: str, max_length: int, required: bool = False, *, newlines: bool = False
) -> str:
    """Text from a form, a JSON body or a socket event: checked (:func:`check_text`), stripped
    and at most ``max_length`` characters long; ``None`` counts as empty. Raises
    :class:`Invalid` with ``invalid_type``, ``<name>_required`` or ``<name>_too_long``. With
    ``newlines`` line ends (CR LF, CR) become LF before stripping."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid("invalid_type", _("Field “%(name)s” must be text.", name=name))
    value = check_text(value)
    if newlines:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip()
    if required and not value:
        raise Invalid(f"{name}_required", _("Field “%(name)s” is required.", name=name))
    if len(value) > max_length:
        raise Invalid(
            f"{name}_too_long",
            _("Field “%(name)s” may have at most %(n)d characters.", name=name, n=max_length),
        )
    return value


def parse_id(value) -> int | None:
    """A database id from a URL or a payload: a positive integer below 2**63, given as a
    number or as decimal text; anything else is ``None``."""
    try:
        key = int(value)
    except (TypeError, ValueError):
        return None
    return key if 0 < key < 2**63 else None


_EMBEDDINGS = "\u202a\u202b\u202d\u202e"  # LRE RLE LRO RLO, closed by PDF (U+202C)
_ISOLATES = "\u2066\u2067\u2068"  # LRI RLI FSI, closed by PDI (U+2069)


def balance_bidi(value: str) -> str:
    """Close the directional embeddings, overrides and isolates a text leaves open, so that
    a right-to-left override in a name or title cannot turn around the page's text that
    follows it. Line breaks do not count as ends: a page may show the text on one line. The
    terminators go before trailing white space, which callers strip."""
    if not any(c in value for c in _EMBEDDINGS + _ISOLATES):
        return value
    stack: list[str] = []
    for char in value:
        if char in _EMBEDDINGS:
            stack.append("\u202c")
        elif char in _ISOLATES:
            stack.append("\u2069")
        elif char == "\u202c" and stack and stack[-1] == "\u202c":
            stack.pop()
        elif char == "\u2069" and "\u2069" in stack:
            while stack.pop() != "\u2069":
                pass
    if not stack:
        return value
    core = value.rstrip()
    return core + "".join(reversed(stack)) + value[len(core) :]


def _depth(value, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level + 1])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level + 1])
    return level


def _scalar(name: str, kind: type, value) -> str:
    def wrong():
        return Invalid(
            "invalid_type",
            _("Field “%(name)s” has the wrong type.", name=name),
            fields={name: [_("Wrong type.")]},
        )

    if issubclass(kind, BooleanField):
        if not isinstance(value, bool):
            raise wrong()
        return "y" if value else ""
    if issubclass(kind, IntegerField):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise wrong()
        return str(value)
    if not isinstance(value, str):
        raise wrong()
    return check_text(value)


@cache
def _field_kinds(form_cls: type[Form]) -> dict[str, type]:
    """The class of each of the form's fields, by name (a form is built once to learn them)."""
    return {name: type(field) for name, field in form_cls()._fields.items()}


def to_formdata(form_cls: type[Form], payload) -> MultiDict:
    if not isinstance(payload, dict):
        raise BadRequest("bad_payload", _("The request body must be a JSON object."))
    if _depth(payload) > MAX_DEPTH:
        raise BadRequest("bad_payload", _("The request body is nested too deeply."))
    kinds = _field_kinds(form_cls)
    data = MultiDict()
    for name, value in payload.items():
        kind = kinds.get(name)
        if kind is None or value is None:
            continue  # unknown fields are ignored; null means absent
        if issubclass(kind, FieldList | SelectMultipleField):
            if not isinstance(value, list):
                raise Invalid(
                    "invalid_type",
                    _("Field “%(name)s” must be a list.", name=name),
                    fields={name: [_("Must be a list.")]},
                )
            for index, item in enumerate(value):
                key = f"{name}-{index}" if issubclass(kind, FieldList) else name
                if not isinstance(item, str):
                    raise Invalid(
                        "invalid_type",
                        _("Field “%(name)s” must be a list of text.", name=name),
                        fields={name: [_("Must be a list of text.")]},
                    )
                data.add(key, check_text(item))
        elif issubclass(kind, DateTimeLocalField):
            if not isinstance(value, str):
                raise Invalid("invalid_type", _("Field “%(name)s” must be a date.", name=name))
            data.add(name, value.replace("T", " ")[:16].replace(" ", "T"))
        else:
            data.add(name, _scalar(name, kind, value))
    return data


def parse(form_cls: type[Form], payload) -> Form:
    """A validated form for ``payload``, or :class:`Invalid` naming each bad field."""
    form = form_cls(formdata=to_formdata(form_cls, payload), meta={"csrf": False})
    if not form.validate():
        raise invalid_form(form)
    return form


def invalid_form(form: Form) -> Invalid:
    def flat(errs):  # a FieldList reports one list of errors per entry
        for error in errs:
            if isinstance(error, list | tuple):
                yield from flat(error)
            elif error:
                yield str(error)

    errors = {name: list(flat(errs)) for name, errs in form.errors.items()}
    errors = {name: errs for name, errs in errors.items() if errs}
    if not errors:
        return Invalid("invalid_field", _("The request is not valid."))
    first_name, first_errors = next(iter(errors.items()))
    label = getattr(form, first_name).label.text if hasattr(form, first_name) else first_name
    return Invalid(
        "invalid_field",
        _("%(field)s: %(error)s", field=label, error=first_errors[0]),
        fields=errors,
    )
