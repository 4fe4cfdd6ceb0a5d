"""Valid-looking test identities: ID numbers with correct checksums, mainland mobiles."""

from __future__ import annotations

import itertools
import random

from core.identity import id_check_char

_counter = itertools.count(random.SystemRandom().randrange(10_000, 90_000))


def fake_id_number(n: int | None = None, area: str = "110105", birth: str = "19900101") -> str:
    seq = next(_counter) if n is None else n
    # Vary the birth day too so that many numbers stay unique.
    day = 1 + (seq // 1000) % 28
    birth = birth[:6] + f"{day:02d}"
    first17 = f"{area}{birth}{seq % 1000:03d}"
    return first17 + id_check_char(first17)


def fake_mobile(n: int | None = None) -> str:
    seq = next(_counter) if n is None else n
    return f"13{seq % 10}{seq:08d}"[:11]
