"""Valid-looking test identities: ID numbers and credit codes that pass every structural check
of ``core.identity`` (and python-stdnum's), mainland mobiles."""

from __future__ import annotations

import itertools
import random

from core.identity import credit_check_char, id_check_char, org_check_char

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


def fake_credit_code(n: int | None = None, region: str = "110108") -> str:
    """A unified social credit code of a company (authority 9, category 1) with a valid
    embedded organisation code."""
    seq = next(_counter) if n is None else n
    org8 = f"MA{seq % 10**6:06d}"
    first17 = f"91{region}{org8}{org_check_char(org8)}"
    return first17 + credit_check_char(first17)
