"""Identity rules: GB 11643 ID numbers and mainland mobiles (property-based), masking, and that
pages and logs never carry a full ID number."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.identity import (
    InvalidIdentity,
    id_check_char,
    is_valid_id_number,
    mask_id_number,
    mask_mobile,
    normalize_id_number,
    normalize_mobile,
)

areas = st.sampled_from(["110105", "110101", "310104", "440305", "510107", "650102"])
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today())
sequences = st.integers(min_value=0, max_value=999)


@st.composite
def id_numbers(draw) -> str:
    first17 = f"{draw(areas)}{draw(births):%Y%m%d}{draw(sequences):03d}"
    return first17 + id_check_char(first17)


@given(id_numbers())
def test_generated_id_numbers_are_valid(value):
    assert normalize_id_number(value) == value
    assert normalize_id_number(f"  {value} ") == value


@given(id_numbers(), st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_is_rejected(value, position, delta):
    digit = str((int(value[position]) + delta) % 10)
    changed = value[:position] + digit + value[position + 1:]
    # A changed digit in the birth date may make the date impossible: also a rejection.
    with pytest.raises(InvalidIdentity):
        normalize_id_number(changed)


@given(id_numbers(), st.sampled_from("0123456789X"))
def test_a_wrong_check_character_is_rejected(value, check):
    if check == value[17]:
        return
    with pytest.raises(InvalidIdentity, match="校验位不正确"):
        normalize_id_number(value[:17] + check)


@given(areas, st.sampled_from(["19900230", "19910229", "20000431", "19901301", "19900000", "18991231"]), sequences)
def test_impossible_birth_dates_are_rejected(area, birth, seq):
    first17 = f"{area}{birth}{seq:03d}"
    with pytest.raises(InvalidIdentity, match="出生日期不正确"):
        normalize_id_number(first17 + id_check_char(first17))


def test_future_birth_date_is_rejected():
    birth = dt.date.today() + dt.timedelta(days=2)
    first17 = f"110105{birth:%Y%m%d}123"
    with pytest.raises(InvalidIdentity, match="出生日期不正确"):
        normalize_id_number(first17 + id_check_char(first17))


def test_lowercase_x_is_accepted_and_normalised():
    first17 = next(f"11010519900101{n:03d}" for n in range(1000) if id_check_char(f"11010519900101{n:03d}") == "X")
    assert normalize_id_number(first17 + "x") == first17 + "X"


@pytest.mark.parametrize(
    ("raw", "message"),
    [("", "请输入身份证号"), ("11010519900101123", "应为18位"), ("1101051990010112345", "应为18位"),
     ("11010519900101123Y", "应为18位"), ("X10105199001011234", "应为18位")],
)
def test_malformed_id_numbers_get_a_chinese_message(raw, message):
    with pytest.raises(InvalidIdentity, match=message):
        normalize_id_number(raw)
    assert not is_valid_id_number(raw)


@given(id_numbers())
def test_id_mask_keeps_only_first_six_and_last_four(value):
    masked = mask_id_number(value)
    assert masked == value[:6] + "*" * 8 + value[-4:]
    assert value[6:14] not in masked.replace("*", "")  # the birth date is hidden


def test_id_mask_example_and_edge_cases():
    assert mask_id_number("110105199001011234") == "110105********1234"
    assert mask_id_number("") == "" and mask_id_number(None) == ""
    assert mask_id_number("12345") == "*****"


mobiles = st.builds(lambda p, rest: f"1{p}{rest:09d}", st.integers(3, 9), st.integers(0, 10**9 - 1))


@given(mobiles)
def test_generated_mobiles_are_valid_and_masked(value):
    assert normalize_mobile(value) == value
    assert normalize_mobile(f"+86 {value[:3]}-{value[3:7]}-{value[7:]}") == value
    assert mask_mobile(value) == value[:3] + "****" + value[-4:]


@given(st.text(alphabet="0123456789", min_size=0, max_size=15))
def test_only_eleven_digit_mainland_numbers_pass(value):
    ok = len(value) == 11 and value[0] == "1" and value[1] in "3456789"
    assert (normalize_mobile(value) == value) if ok else not _valid_mobile(value)


def _valid_mobile(value: str) -> bool:
    try:
        normalize_mobile(value)
    except InvalidIdentity:
        return False
    return True


@pytest.mark.parametrize(("raw", "message"), [("", "请输入手机号"), ("12012345678", "手机号格式不正确"),
                                              ("1381234567a", "手机号格式不正确"), ("+1 2025550100", "手机号格式不正确")])
def test_bad_mobiles_get_a_chinese_message(raw, message):
    with pytest.raises(InvalidIdentity, match=message):
        normalize_mobile(raw)


# --- pages and logs --------------------------------------------------------------------------


async def test_pages_show_the_masked_id_number_only(client, make_account):
    account, password = await make_account("construction", role="learner")
    r = await client.signin("construction", "id", password, id_number=account.id_number)
    assert r.status_code == 303
    assert account.id_number not in r.headers["location"]
    for url in ("/t/construction/me", "/t/construction/", "/t/construction/inbox", "/t/construction/password"):
        page = await client.get(url)
        assert page.status_code == 200, url
        assert account.id_number not in page.text, url
        assert account.mobile not in page.text, url
    me = await client.get("/t/construction/me")
    assert mask_id_number(account.id_number) in me.text
    assert mask_mobile(account.mobile) in me.text


async def test_sign_in_logs_no_id_number(client, make_account, caplog):
    """What a server logs at INFO (its production level) carries no ID number; neither does
    anything the app itself logs at DEBUG. (The aiosqlite driver logs SQL parameters at DEBUG,
    so production must never run it at DEBUG: see docs/plugins.md.)"""
    account, password = await make_account("construction", role="learner")
    with caplog.at_level(logging.DEBUG):
        await client.signin("construction", "id", "wrong-pass1", id_number=account.id_number)
        r = await client.signin("construction", "id", password, id_number=account.id_number)
        assert r.status_code == 303
        await client.get("/t/construction/me")
    assert caplog.records, "expected the server to log something"
    shown = [rec for rec in caplog.records
             if rec.levelno >= logging.INFO or rec.name.startswith(("xueshi", "core", "plugins", "litestar"))]
    assert any(rec.name == "httpx" for rec in shown)  # the request lines are there ...
    text = "\n".join(f"{rec.name} {rec.getMessage()}" for rec in shown)
    assert account.id_number not in text  # ... but not the ID number
    assert account.id_number[:14] not in text


# -- GB 11643 / GB 32100 structure, compared with python-stdnum (issue 8 #22) -----------------

from hypothesis import settings as hsettings  # noqa: E402
from stdnum.cn import ric, uscc  # noqa: E402

from core.identity import (  # noqa: E402
    CREDIT_AUTHORITIES,
    PROVINCES,
    credit_check_char,
    normalize_credit_code,
    org_check_char,
)
from core.testing.ids import fake_credit_code, fake_id_number  # noqa: E402

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _ours_credit(value: str) -> bool:
    try:
        normalize_credit_code(value)
    except InvalidIdentity:
        return False
    return True


def _stdnum_ric(value: str) -> bool | None:
    """stdnum's verdict, or None where it cannot give one (``KeyError`` on some region codes)."""
    try:
        return ric.is_valid(value)
    except KeyError:
        return None


@pytest.mark.parametrize("value", ["EPP5X1BQPNNU4PQ29N", "91110108MA0171543A", "9111010AMA01715434"])
def test_structurally_impossible_credit_codes_are_refused(value):
    assert not _ours_credit(value)


def test_known_real_credit_code_is_accepted():
    assert normalize_credit_code("91350100M000100Y43") == "91350100M000100Y43"  # stdnum's example


def test_non_existent_province_is_refused():
    with pytest.raises(InvalidIdentity, match="省级地区代码"):
        normalize_id_number("862981198608090223")


@st.composite
def near_valid_credit_codes(draw) -> str:
    """Valid checksums, random structure: letters anywhere, any authority/category, any embedded
    organisation check character — what the old check-character-only rule let through."""
    body = draw(st.text(alphabet=CREDIT_CHARS, min_size=17, max_size=17))
    if draw(st.booleans()):  # right authority/category and digits in the region part
        authority = draw(st.sampled_from(sorted(CREDIT_AUTHORITIES)))
        category = draw(st.sampled_from(CREDIT_AUTHORITIES[authority]))
        region = f"{draw(st.integers(0, 999_999)):06d}"
        body = authority + category + region + body[8:]
    if draw(st.booleans()):  # a right embedded organisation check character
        body = body[:16] + org_check_char(body[8:16]).replace("X", "0")
    return body + credit_check_char(body)


@hsettings(max_examples=1500)
@given(near_valid_credit_codes())
def test_credit_codes_we_accept_are_accepted_by_stdnum(value):
    """Where stdnum applies (the first eight characters digits), it is never more lenient than we
    are in the direction that matters: we accept only what it accepts."""
    if _ours_credit(value) and value[:8].isdigit():
        assert uscc.is_valid(value)


@hsettings(max_examples=1500)
@given(near_valid_credit_codes())
def test_credit_code_verdict_is_the_structure(value):
    expected = (
        value[1] in CREDIT_AUTHORITIES.get(value[0], "")
        and value[2:8].isdigit()
        and org_check_char(value[8:16]) == value[16]
        and uscc.calc_check_digit(value[:17]) == value[17]
    )
    assert _ours_credit(value) == expected


@hsettings(max_examples=500)
@given(st.integers(min_value=0, max_value=10**6 - 1), st.sampled_from(["110108", "310115", "440305"]))
def test_generated_credit_codes_are_valid_for_both(n, region):
    value = fake_credit_code(n, region)
    assert _ours_credit(value) and uscc.is_valid(value)


@st.composite
def near_valid_id_numbers(draw) -> str:
    """Right check digit, real dates, region codes from anywhere in 00–99."""
    area = f"{draw(st.integers(0, 99)):02d}{draw(st.integers(0, 9999)):04d}"
    first17 = f"{area}{draw(births):%Y%m%d}{draw(sequences):03d}"
    return first17 + id_check_char(first17)


@hsettings(max_examples=1500)
@given(near_valid_id_numbers())
def test_id_numbers_against_stdnum(value):
    ours = is_valid_id_number(value)
    theirs = _stdnum_ric(value)
    # Same check digit and date rules: stdnum's check-digit formula agrees with ours.
    assert ric.calc_check_digit(value) == value[17]
    if theirs:  # stdnum found a real county for the birth year: the province is real for us too
        assert ours
    if value[:2] not in PROVINCES:  # a non-existent province: both refuse
        assert not ours and not theirs
    assert ours == (value[:2] in PROVINCES)


@given(st.integers(min_value=0, max_value=10**6))
def test_generated_id_numbers_are_valid_for_both(n):
    value = fake_id_number(n)
    assert is_valid_id_number(value) and _stdnum_ric(value)
