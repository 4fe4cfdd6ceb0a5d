"""Helpers shared by the company pages: forms, uploads, the signed-in company."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler

from core import Enterprise
from plugins.survey_association.company.certification import approved_company as _approved

MAX_SHEET_BYTES = 10 * 1024 * 1024


@dataclass
class Form:
    fields: dict[str, str]
    lists: dict[str, list[str]]
    files: dict[str, UploadFile]

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default).strip()


async def read_form(request: Request) -> Form:
    form = await request.form()
    fields: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, value)
            lists.setdefault(key, []).append(value)
        elif isinstance(value, UploadFile) and value.filename:
            files[key] = value
    return Form(fields, lists, files)


async def upload_bytes(upload: UploadFile | None, limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes (so an oversized file is detected without reading it all)."""
    if upload is None:
        return b""
    return await upload.read(limit + 1)


async def approved_company(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard of the company pages (after ``roles(COMPANY_ADMIN)``): the administrator's
    company must be approved, else 404. Handlers get it as the ``enterprise`` dependency."""
    account = connection.state.account
    enterprise = await _approved(connection.state.tenant, account.enterprise)
    if enterprise is None:
        raise NotFoundException()
    connection.state.enterprise = enterprise


def provide_enterprise(request: Request) -> Enterprise:
    return request.state.enterprise


def values(form: Form, *names: str) -> dict[str, Any]:
    return {n: form.get(n) for n in names}


def as_json(value: Any, default: Any = None) -> Any:
    """A JSON column's value (Piccolo returns the text unless asked to load it)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return default if value is None else value
