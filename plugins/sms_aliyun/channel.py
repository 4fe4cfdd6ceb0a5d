"""The ``sms:aliyun`` channel and the tenant's ``[sms_aliyun]`` rules section."""

from __future__ import annotations

import logging
import re
from string import Template

import msgspec

from core import Notification, Secret, Tenant, mask_mobile, placeholders

from plugins.sms_aliyun.client import AliyunClient, Credentials

log = logging.getLogger("xueshi.sms.aliyun")


class TemplateRef(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One message kind's approved template: its code (``SMS_…``) and parameter names."""

    code: str
    params: list[str] = msgspec.field(default_factory=list)


class AliyunSmsRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[sms_aliyun]``: the region and, per message kind (a key of the tenant's texts), the
    template that carries it (``[sms_aliyun.templates.hours_approved] code = "SMS_…"``)."""

    region: str = "cn-hangzhou"
    templates: dict[str, TemplateRef] = msgspec.field(default_factory=dict)
    attempts: int = 3  # tries of one request while the provider throttles or fails (5xx)
    backoff_seconds: float = 0.5  # wait before the 2nd try, doubled before each later one
    per_minute: int = 60  # the tenant's send rate: queued texts sent per minute at most
    give_up_minutes: int = 60  # a text still unsent (provider busy) this long after queueing fails

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_seconds < 0 or self.per_minute < 1 or self.give_up_minutes < 1:
            raise msgspec.ValidationError("attempts, per_minute and give_up_minutes must be 1 or more, "
                                          "backoff_seconds 0 or more - at `$.sms_aliyun`")


def sign_name(tenant: Tenant) -> str:
    """Alibaba's SignName: the tenant's ``[sms] signature`` without its 【】 brackets."""
    return tenant.rules.sms.signature.strip().removeprefix("【").removesuffix("】")


class AliyunSms:
    name = "sms:aliyun"
    delivers = True

    def client(self, tenant: Tenant) -> AliyunClient:
        credentials = Credentials.from_env()
        if credentials is None:
            raise LookupError("XUESHI_SMS_ALIYUN_ACCESS_KEY_ID / _SECRET are not set")
        rules: AliyunSmsRules = tenant.section("sms_aliyun")
        return AliyunClient(credentials, region=rules.region, attempts=rules.attempts,
                            backoff_seconds=rules.backoff_seconds)

    def problems(self, tenant: Tenant, texts: dict[str, str]) -> list[str]:
        rules: AliyunSmsRules = tenant.section("sms_aliyun")
        found = [] if Credentials.from_env() else ["XUESHI_SMS_ALIYUN_ACCESS_KEY_ID / _SECRET are not set"]
        if not sign_name(tenant):
            found.append("[sms] signature is empty: Alibaba Cloud needs the registered SignName")
        for kind, ref in sorted(rules.templates.items()):
            if kind not in texts:
                found.append(f"[sms_aliyun.templates.{kind}]: the tenant has no text {kind!r}")
                continue
            in_text, in_template = placeholders(texts[kind]), set(ref.params)
            if in_text != in_template:
                found.append(f"[sms_aliyun.templates.{kind}] ({ref.code}): the text's placeholders "
                             f"{sorted(in_text)} differ from the template's parameters {sorted(in_template)}")
        return found

    async def send_template(self, notification: Notification, tenant: Tenant, text: str, values: dict) -> str:
        """A text with a secret (a sign-in code) is sent now: it is needed at once and its clear
        value must not wait in a queue. Any other is queued for the plugin's send job, which
        reads its values back from the stored text and keeps the tenant's send rate."""
        ref = template_of(tenant, notification.template)
        if not any(isinstance(values.get(p), Secret) for p in ref.params):
            return "queued"
        await self.send_now(notification, tenant, {p: str(values[p]) for p in ref.params})
        return "sent"

    async def send_now(self, notification: Notification, tenant: Tenant, params: dict[str, str]) -> None:
        ref = template_of(tenant, notification.template)
        notification.provider_ref = await self.client(tenant).send_sms(
            notification.recipient, sign_name(tenant), ref.code, params, out_id=str(notification.id))
        log.info("sms sent by aliyun (id=%s, template=%s, to=%s)", notification.id, ref.code,
                 mask_mobile(notification.recipient))


def template_of(tenant: Tenant, kind: str) -> TemplateRef:
    ref = tenant.section("sms_aliyun").templates.get(kind)
    if ref is None:
        raise LookupError(f"no Alibaba Cloud template for {kind!r} ([sms_aliyun.templates])")
    return ref


def values_in(text: str, body: str) -> dict[str, str] | None:
    """The placeholder values that make the tenant's ``text`` read as the stored ``body`` (its
    signature removed); None when the body is not that text."""
    parts, names, pos = [], [], 0
    for match in Template.pattern.finditer(text):
        name = match.group("named") or match.group("braced")
        if not name:
            continue
        parts.append(re.escape(text[pos:match.start()]))
        if name in names:
            parts.append(f"(?P={name})")
        else:
            parts.append(f"(?P<{name}>.*?)")
            names.append(name)
        pos = match.end()
    parts.append(re.escape(text[pos:]))
    found = re.fullmatch("".join(parts), body, re.DOTALL)
    return found.groupdict() if found else None
