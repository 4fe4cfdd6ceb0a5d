"""An async test client that behaves like a browser with htmx: CSRF token and HX headers."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient


class XsClient:
    def __init__(self, client: AsyncTestClient) -> None:
        self.http = client

    @property
    def cookies(self):
        return self.http.cookies

    async def _csrf(self) -> str:
        token = self.http.cookies.get("csrftoken")
        if token is None:
            await self.http.get("/static/core/css/app.css")  # any GET sets the cookie
            token = self.http.cookies.get("csrftoken")
            if token is None:
                r = await self.http.get("/")
                token = self.http.cookies.get("csrftoken") or r.cookies.get("csrftoken")
        return token or ""

    async def get(self, url: str, **kw: Any):
        kw.setdefault("follow_redirects", False)
        return await self.http.get(url, **kw)

    async def post(self, url: str, data: dict | None = None, files: Any = None, csrf: bool = True, **kw: Any):
        data = dict(data or {})
        if csrf:
            data.setdefault("_csrf_token", await self._csrf())
        kw.setdefault("follow_redirects", False)
        return await self.http.post(url, data=data, files=files, **kw)

    async def hx_get(self, url: str, **kw: Any):
        headers = {"HX-Request": "true", **kw.pop("headers", {})}
        return await self.http.get(url, headers=headers, **kw)

    async def hx_post(self, url: str, data: dict | None = None, files: Any = None, **kw: Any):
        headers = {"HX-Request": "true", "x-csrftoken": await self._csrf(), **kw.pop("headers", {})}
        return await self.http.post(url, data=data or {}, files=files, headers=headers, **kw)

    async def signin(self, slug: str, method: str, password: str, **fields: str):
        """Sign in through the real form; returns the response (303 on success)."""
        await self.get(f"/t/{slug}/signin")
        return await self.post(f"/t/{slug}/signin/{method}", {**fields, "password": password})
