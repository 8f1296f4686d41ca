"""The live room (协商室): presence, discussion, moderation, the speaker queue."""


def init_app(app):
    pass
