"""Identity rules: PRC resident ID numbers (GB 11643-1999), unified social credit codes
(GB 32100-2015), mainland mobiles, masking.

Both codes are checked for the structure their standards define, not only the check character:
an ID number's province-level region code must exist and its birth date be a real date; a credit
code's registration-authority and category codes must be ones the standard assigns, its region
part six digits and its embedded organisation code (GB 11714) carry a right check character.
``tests/test_identity.py`` compares both with python-stdnum (``cn.ric``, ``cn.uscc``).

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


# GB/T 2260 province-level codes (first two digits); 83 is used by residence permits of Taiwan
# residents, 81/82 by those of Hong Kong and Macao residents (GB 11643's number format).
PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82", "83",
})


def id_check_char(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalize_id_number(raw: str) -> str:
    """Return the canonical 18-character ID number or raise InvalidIdentity."""
    value = (raw or "").strip().upper().replace(" ", "")
    if not value:
        raise InvalidIdentity("请输入身份证号")
    if not _ID_RE.match(value):
        raise InvalidIdentity("身份证号应为18位，最后一位可以是数字或X")
    if value[:2] not in PROVINCES:
        raise InvalidIdentity("身份证号前两位（省级地区代码）不正确，请核对")
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
# GB 32100-2015 Annex A: registration-authority code (1st character) -> the organisation
# category codes (2nd character) it assigns.
CREDIT_AUTHORITIES = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": "19",  # 外交
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": "19",  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714-1997


def credit_check_char(first17: str) -> str:
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    """The check character of a GB 11714 organisation code (digits and capital letters)."""
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def normalize_credit_code(raw: str) -> str:
    """Return the canonical unified social credit code (统一社会信用代码) or raise InvalidIdentity."""
    value = (raw or "").strip().upper().replace(" ", "")
    if not value:
        raise InvalidIdentity("请输入统一社会信用代码")
    if len(value) != 18:
        raise InvalidIdentity("统一社会信用代码应为18位")
    if any(c not in _CREDIT_CHARS for c in value):
        raise InvalidIdentity("统一社会信用代码只能包含数字和大写字母（不含 I、O、S、V、Z）")
    if value[1] not in CREDIT_AUTHORITIES.get(value[0], ""):
        raise InvalidIdentity("统一社会信用代码前两位（登记管理部门和机构类别代码）不正确，请核对")
    if not value[2:8].isdigit():
        raise InvalidIdentity("统一社会信用代码第3至8位（行政区划码）应为数字，请核对")
    if org_check_char(value[8:16]) != value[16] or credit_check_char(value[:17]) != value[17]:
        raise InvalidIdentity("统一社会信用代码校验位不正确，请核对")
    return value
