"""The association's own account role: a member company's administrator (企业管理员), who
certifies the company, manages its learners and certificates (``company/``)."""

from __future__ import annotations

from core import AccountRole

COMPANY_ADMIN = "enterprise_admin"  # the string stored in Account.role

ROLES = [AccountRole(COMPANY_ADMIN, "企业管理员", landing="/me")]
