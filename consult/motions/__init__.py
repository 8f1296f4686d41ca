"""Motions (动议), amendments (修正案), seconding (附议) and votes (表决)."""


def init_app(app):
    pass
