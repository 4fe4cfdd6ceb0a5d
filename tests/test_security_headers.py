"""Security headers on every response, and no inline script the policy would have to allow."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from litestar.testing import AsyncTestClient

from core.app import create_app
from core.testing.pytest_plugin import deployed_platform

REPO = Path(__file__).resolve().parents[1]


async def test_pages_files_and_errors_carry_the_security_headers(client):
    for url in ("/t/survey/signin", "/static/core/css/app.css", "/t/survey/no-such-page", "/"):
        r = await client.get(url)
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0], url
        assert r.headers["x-frame-options"] == "DENY", url
        assert r.headers["x-content-type-options"] == "nosniff", url
        assert r.headers["referrer-policy"] == "same-origin", url
        assert "strict-transport-security" not in r.headers, url  # plain HTTP: no HSTS


async def test_hsts_is_sent_when_cookies_are_secure(xs_settings):
    app = create_app(platform=await deployed_platform(dataclasses.replace(xs_settings, cookie_secure=True)))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        r = await http.get("/t/survey/signin")
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_templates_have_no_inline_script_or_event_handler():
    bad = []
    for path in [*REPO.glob("core/templates/**/*.html"), *REPO.glob("plugins/*/templates/**/*.html"),
                 *REPO.glob("themes/*/templates/**/*.html")]:
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            bad.append(f"{path.relative_to(REPO)}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text or "hx-on" in text:
            bad.append(f"{path.relative_to(REPO)}: inline event handler")
    assert not bad, "the Content-Security-Policy allows scripts from our origin only:\n  " + "\n  ".join(bad)


async def test_a_csrf_cookie_planted_after_sign_in_does_not_pass_with_the_session(client, make_account):
    """Cookie tossing: another host sets its own (valid) CSRF cookie in the victim's browser and
    posts a form carrying it. The session is bound to the CSRF cookie it was started with."""
    account, password = await make_account("survey")
    assert (await client.signin("survey", "mobile", password, mobile=account.mobile)).status_code == 303
    ok = await client.post("/t/survey/signout", {})
    assert ok.status_code == 303  # the genuine cookie works (and signs out)
    assert (await client.signin("survey", "mobile", password, mobile=account.mobile)).status_code == 303
    # Another valid token pair (the server issues one to a browser without the cookie), planted
    # in the victim's browser next to their session cookie.
    genuine = client.http.cookies["csrftoken"]
    client.http.cookies.delete("csrftoken")
    await client.get("/static/core/css/app.css")
    planted = client.http.cookies["csrftoken"]
    assert planted != genuine
    r = await client.post("/t/survey/signout", {"_csrf_token": planted})
    assert r.status_code == 403
    assert (await client.get("/t/survey/me")).status_code == 200  # still signed in: nothing was done
