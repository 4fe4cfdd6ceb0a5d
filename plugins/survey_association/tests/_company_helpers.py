"""Helpers of the survey company tests: companies, signed-in administrators, spreadsheets, images."""

from __future__ import annotations

import io
import itertools
import random

from PIL import Image

from core.accounts.tables import Enterprise
from core.testing.sms import last_sms_code as last_code  # noqa: F401  (re-exported)
from core.roster.spreadsheets import write_csv, write_xlsx
from core.testing.ids import fake_credit_code
from plugins.survey_association.tables import CompanyCertification

_seq = itertools.count(random.SystemRandom().randrange(10**8, 9 * 10**8))
HEADERS = ["姓名", "身份证号", "手机号", "岗位"]


def credit_code() -> str:
    return fake_credit_code(next(_seq))


async def company(tenant, name: str = "测试勘察设计有限公司") -> Enterprise:
    row = Enterprise(tenant=tenant.id, name=f"{name}{next(_seq) % 10000}", credit_code=credit_code(),
                     address="某市某路1号")
    await row.save()
    await CompanyCertification(tenant=tenant.id, enterprise=row.id, status="approved").save()
    return row


async def signed_in_admin(client, tenant, make_account, enterprise=None):
    """A company and its administrator, signed in on ``client``."""
    enterprise = enterprise or await company(tenant)
    account, password = await make_account("survey", role="enterprise_admin", enterprise_id=enterprise.id)
    r = await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert r.status_code == 303, r.text
    return enterprise, account


def jpeg(size=(400, 300), color=(200, 120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG")
    return out.getvalue()


def xlsx(rows, headers=HEADERS) -> bytes:
    return write_xlsx(list(headers), [list(r) for r in rows])


def csv_bytes(rows, headers=HEADERS, encoding="utf-8-sig") -> bytes:
    return write_csv(list(headers), [list(r) for r in rows]).decode("utf-8-sig").encode(encoding)


