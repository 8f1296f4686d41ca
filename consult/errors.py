"""Domain errors: each carries a stable ``code``, a human message and an HTTP status.

Services raise them; the HTTP layer turns them into pages or JSON
(``{"error": {"code", "message"}}``) and the Socket.IO layer into acknowledgements
(``{"ok": false, "error": {...}}``).
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, code: str | None = None, message: str | None = None, **details):
        self.code = code or self.code
        self.message = str(message) if message is not None else self.code
        self.details = details
        super().__init__(f"{self.code}: {self.message}")

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.details:
            body.update(self.details)
        return body


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Invalid(DomainError):
    status = 422
    code = "invalid"


class Busy(DomainError):
    status = 503
    code = "server_busy"


class TooMany(DomainError):
    status = 429
    code = "rate_limited"
