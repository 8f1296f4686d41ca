"""Topic collection (议题征集), announcements and written opinions, notifications."""


def init_app(app):
    pass
