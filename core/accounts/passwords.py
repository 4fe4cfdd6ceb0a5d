"""Argon2id password hashing (argon2-cffi's defaults follow RFC 9106's recommendations).

Hashing and verifying cost about half a second of CPU and 64 MiB each: handlers use the async
forms, which run in the bounded ``password`` thread pool (``core.offload``) so the event loop
keeps serving other requests. A password typed by a user is checked only through
``core.accounts.lockout.check_password`` (rate limit + lockout); ``verify_password`` is its
building block.
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.offload import run_cpu

_hasher = PasswordHasher()  # the shipped parameters: argon2-cffi's RFC 9106 low-memory profile
# Verifying against this keeps the timing of "no such account" like a real check.
_DUMMY = _hasher.hash("xueshi-dummy-password")


def use_cheap_parameters_for_tests() -> None:
    """Hash with the cheapest Argon2id parameters from now on, in this process. Only the test kit
    calls this (``core.testing.pytest_plugin``): a test suite hashes hundreds of passwords, and
    the strength of a hash is not what those tests are about. Never called by the application."""
    global _hasher, _DUMMY
    _hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    _DUMMY = _hasher.hash("xueshi-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, password or "") and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await run_cpu("password", hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    # Looked up at call time so a test can count the real verifications.
    return await run_cpu("password", verify_password, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
