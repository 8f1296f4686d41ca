"""Password hashing with argon2id at OWASP ASVS 5.0 Appendix C strength
(m = 19 MiB, t = 2, p = 1 is the minimum it names; we use m = 19 MiB, t = 2, p = 1
or stronger via ``PASSWORD_ARGON2`` settings)."""

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
MIN_LENGTH = 8
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


# A constant hash to verify against when the account does not exist, so that the answer
# takes the same time either way.
DUMMY_HASH = _hasher.hash("yiting-no-such-account")
