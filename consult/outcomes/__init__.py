"""Outcomes (协商结果), the public notice page (公示栏), implementation (落实反馈),
evaluation (共评) and the minutes (会议纪要).

- ``service``: draft, publish, correct; objections, progress, completion, ratings; the board;
- ``fingerprint``: the canonical form of a published record and its SHA-256;
- ``charts``: server-rendered SVG charts; ``feed``: the Atom feed; ``minutes``: the minutes.
"""

from . import models  # noqa: F401


def init_app(app):
    from consult.web.i18n import localtime

    from . import api, routes  # noqa: F401

    app.register_blueprint(routes.bp)

    def record_time(value, fmt: str = "medium") -> str:
        """A time from a published record (ISO 8601, UTC) in the page's time zone."""
        from datetime import datetime

        if not value:
            return ""
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
        return localtime(parsed, fmt)

    app.jinja_env.filters["record_time"] = record_time
    app.jinja_env.globals["outcome_panel"] = routes.consultation_panel
