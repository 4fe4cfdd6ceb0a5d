"""A tenant for the face tests: face checks with the real providers and sign-in by mobile.

The survey association offers no proctoring (its guide has none), and the construction group
signs in by ID number with its own face rules, so the face tests that need a second tenant with
face checks, or mobile sign-in, use this one.
"""

from __future__ import annotations

from pathlib import Path

from core import MobilePassword, TenantSpec, hookimpl

FACE = "facecheck"
RULES = Path(__file__).parent / "fixtures" / "facecheck" / "rules.toml"


class FaceTenant:
    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug=FACE, name="人脸核验测试培训中心", name_en="Face check test centre", rules_file=RULES)

    @hookimpl
    def signin_methods(self, tenant):
        return [MobilePassword()]
