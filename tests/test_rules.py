"""A tenant's rules.toml is validated into typed structs at startup; a wrong key or value stops
``create_app`` with a message naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.app import create_app
from core.hookspecs import hookimpl
from core.tenancy import RulesError, TenantRules, TenantSpec, load_rules

REPO = Path(__file__).resolve().parents[1]


class RulesTenant:
    """A tenant plugin whose rules file is written by the test."""

    def __init__(self, rules_file: Path) -> None:
        self.rules_file = rules_file

    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug="rulestest", name="规则测试", name_en="Rules test", rules_file=self.rules_file)


def _app_with_rules(xs_settings, tmp_path, text: str):
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path, lambda: create_app(xs_settings, [RulesTenant(path)])


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ("[exam]\npass_mark = 60\n", "exam.pass_mark", "unknown field"),
        ("[exams]\nquestions = 10\n", "exams", "unknown field"),
        ('[exam]\nquestions = "fifty"\n', "exam.questions", "Expected `int`, got `str`"),
        ("[study]\nallow_seek = 1\n", "study.allow_seek", "Expected `bool`"),
        ("[exam]\ntotal_points = 100\npass_points = 120\n", "exam.pass_points", "between 1 and total_points"),
        ("[face]\nmax_attempts = 0\n", "face.max_attempts", "between 1 and 20"),
        ('[roster]\npositions = "安全员"\n', "roster.positions", "Expected `array`"),
    ],
)
def test_wrong_rules_stop_startup_naming_file_and_key(xs_settings, tmp_path, text, key, says):
    path, build = _app_with_rules(xs_settings, tmp_path, text)
    with pytest.raises(RulesError) as caught:
        build()
    message = str(caught.value)
    assert str(path) in message
    assert f"key '{key}'" in message
    assert says in message


def test_invalid_toml_names_the_file(xs_settings, tmp_path):
    path, build = _app_with_rules(xs_settings, tmp_path, "[exam\nquestions = 1\n")
    with pytest.raises(RulesError, match="not valid TOML") as caught:
        build()
    assert str(path) in str(caught.value)


def test_missing_rules_file_names_the_file(xs_settings, tmp_path):
    missing = tmp_path / "nowhere" / "rules.toml"
    with pytest.raises(RulesError, match="file not found") as caught:
        create_app(xs_settings, [RulesTenant(missing)])
    assert str(missing) in str(caught.value)


def test_good_rules_are_typed(xs_settings, tmp_path):
    path, build = _app_with_rules(
        xs_settings, tmp_path, '[exam]\nquestions = 20\npass_points = 80\n[sms]\nsignature = "【测试】"\n'
    )
    app = build()
    rules = app.state.platform.tenants.get("rulestest").rules
    assert isinstance(rules, TenantRules)
    assert rules.exam.questions == 20 and rules.exam.pass_points == 80 and rules.exam.total_points == 100
    assert rules.sms.signature == "【测试】"
    assert rules.face.max_attempts == 3  # defaults fill what the file leaves out


@pytest.mark.parametrize("plugin", ["survey_association", "construction_group"])
def test_shipped_rules_files_validate(plugin):
    rules = load_rules(REPO / "plugins" / plugin / "rules.toml")
    assert isinstance(rules, TenantRules)
    assert rules.sms.signature.startswith("【")


def test_shipped_rules_carry_the_tenants_differences():
    survey = load_rules(REPO / "plugins/survey_association/rules.toml")
    construction = load_rules(REPO / "plugins/construction_group/rules.toml")
    assert survey.signin.initial_password_must_change is False
    assert construction.signin.initial_password_must_change is True
    assert "安全员" in survey.roster.positions


# --- plugins' own rules sections (``tenant_rules_sections``) --------------------------------------

import msgspec  # noqa: E402


class CourseRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_courses: int = 5
    catalogue: list[str] = msgspec.field(default_factory=list)


class SectionTenant(RulesTenant):
    """A tenant plugin that declares its own ``[courses]`` section."""

    @hookimpl
    def tenant_rules_sections(self):
        return {"courses": CourseRules}


class OtherTenantWithSection:
    """Another tenant's plugin: its ``[elsewhere]`` section is not the rulestest tenant's."""

    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug="rulesother", name="别的租户", name_en="Other")

    @hookimpl
    def tenant_rules_sections(self):
        return {"elsewhere": CourseRules}


def _with_section(xs_settings, tmp_path, text: str, *extra):
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path, lambda: create_app(xs_settings, [SectionTenant(path), *extra])


def test_tenant_rules_sections_are_validated_and_typed(xs_settings, tmp_path):
    _, build = _with_section(xs_settings, tmp_path, '[courses]\nmax_courses = 9\ncatalogue = ["测量"]\n[exam]\nquestions = 10\n',
                             OtherTenantWithSection())
    tenants = build().state.platform.tenants
    mine = tenants.get("rulestest")
    assert mine.section("courses") == CourseRules(max_courses=9, catalogue=["测量"])
    assert mine.rules.exam.questions == 10
    assert tenants.get("rulesother").section("elsewhere") == CourseRules()  # defaults without a [elsewhere]
    with pytest.raises(KeyError, match="no rules section 'courses'"):
        tenants.get("rulesother").section("courses")  # the rulestest plugin's section is its own


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ('[courses]\nmax_courses = "many"\n', "courses.max_courses", "Expected `int`, got `str`"),
        ("[courses]\nmax_course = 3\n", "courses.max_course", "unknown field"),
        ("[elsewhere]\nmax_courses = 3\n", "elsewhere", "unknown field"),  # another tenant's section
    ],
)
def test_tenant_rules_sections_wrong_values_stop_startup_naming_file_and_key(xs_settings, tmp_path, text, key, says):
    path, build = _with_section(xs_settings, tmp_path, text, OtherTenantWithSection())
    with pytest.raises(RulesError) as caught:
        build()
    assert str(path) in str(caught.value) and f"key '{key}'" in str(caught.value) and says in str(caught.value)


class ClaimsCoreSection:
    @hookimpl
    def tenant_rules_sections(self):
        return {"exam": CourseRules}


class NotAStruct:
    @hookimpl
    def tenant_rules_sections(self):
        return {"loose": dict}


def test_tenant_rules_sections_must_be_structs_under_keys_of_their_own(xs_settings, tmp_path):
    _, build = _with_section(xs_settings, tmp_path, "", ClaimsCoreSection())
    with pytest.raises(ValueError, match="'exam' is already declared by the core"):
        build()
    _, build = _with_section(xs_settings, tmp_path, "", NotAStruct())
    with pytest.raises(TypeError, match="must be a msgspec.Struct"):
        build()
