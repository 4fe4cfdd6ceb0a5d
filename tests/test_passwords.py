"""Password hashing: the shipped Argon2id parameters are the strong ones; the test kit's cheap
ones exist only in test processes."""

import subprocess
import sys

from argon2 import PasswordHasher

from core.accounts import passwords
from core.testing.pytest_plugin import REPO_ROOT

def test_the_application_hashes_with_the_strong_parameters():
    """In a process without the test kit (as the server runs), a new hash uses the shipped ones."""
    out = subprocess.run(
        [sys.executable, "-c", "from core.accounts.passwords import hash_password; print(hash_password('Passw0rd-1'))"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert out.startswith("$argon2id$") and "$m=65536,t=3,p=4$" in out, out
    assert PasswordHasher().verify(out, "Passw0rd-1")


def test_tests_hash_cheaply_and_a_strong_hash_still_verifies():
    cheap = passwords.hash_password("Passw0rd-1")
    assert "$m=8,t=1,p=1$" in cheap  # this process: the test kit's parameters
    strong = PasswordHasher().hash("Passw0rd-1")  # e.g. an account made by the real server
    assert passwords.verify_password(strong, "Passw0rd-1") and not passwords.verify_password(strong, "wrong")
    assert passwords.verify_password(cheap, "Passw0rd-1") and not passwords.verify_password(cheap, "x")
