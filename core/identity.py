"""Identity rules: PRC resident ID numbers (GB 11643-1999), mainland mobiles, masking.

ID numbers and phone numbers are sensitive personal information (PIPL): pages show them masked,
and they never appear in URLs or logs.
"""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


class InvalidIdentity(ValueError):
    """Raised with a message fit to show the user (Chinese)."""


def id_check_char(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalize_id_number(raw: str) -> str:
    """Return the canonical 18-character ID number or raise InvalidIdentity."""
    value = (raw or "").strip().upper().replace(" ", "")
    if not value:
        raise InvalidIdentity("请输入身份证号")
    if not _ID_RE.match(value):
        raise InvalidIdentity("身份证号应为18位，最后一位可以是数字或X")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdentity("身份证号中的出生日期不正确") from None
    if born < dt.date(1900, 1, 1) or born > dt.date.today():
        raise InvalidIdentity("身份证号中的出生日期不正确")
    if id_check_char(value[:17]) != value[17]:
        raise InvalidIdentity("身份证号校验位不正确，请核对")
    return value


def is_valid_id_number(raw: str) -> bool:
    try:
        normalize_id_number(raw)
    except InvalidIdentity:
        return False
    return True


def normalize_mobile(raw: str) -> str:
    value = re.sub(r"[\s-]", "", raw or "")
    if value.startswith("+86"):
        value = value[3:]
    if not value:
        raise InvalidIdentity("请输入手机号")
    if not _MOBILE_RE.match(value):
        raise InvalidIdentity("手机号格式不正确，应为11位中国大陆手机号")
    return value


def mask_id_number(value: str | None) -> str:
    """110105199001011234 -> 110105********1234"""
    if not value:
        return ""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_mobile(value: str | None) -> str:
    """13812345678 -> 138****5678"""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str:
    """张三丰 -> 张** (used where a list shows people to someone who is not their admin)."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_check_char(first17: str) -> str:
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def normalize_credit_code(raw: str) -> str:
    """Return the canonical unified social credit code (统一社会信用代码) or raise InvalidIdentity."""
    value = (raw or "").strip().upper().replace(" ", "")
    if not value:
        raise InvalidIdentity("请输入统一社会信用代码")
    if len(value) != 18:
        raise InvalidIdentity("统一社会信用代码应为18位")
    if any(c not in _CREDIT_CHARS for c in value):
        raise InvalidIdentity("统一社会信用代码只能包含数字和大写字母（不含 I、O、S、V、Z）")
    if credit_check_char(value[:17]) != value[17]:
        raise InvalidIdentity("统一社会信用代码校验位不正确，请核对")
    return value
