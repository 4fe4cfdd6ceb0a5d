"""Small helpers shared by the learner pages."""

from __future__ import annotations

from litestar import Request


async def text_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() if k not in {"password", "again"} else v for k, v in form.items() if isinstance(v, str)}


async def upload(request: Request, name: str) -> bytes | None:
    """The bytes of an uploaded file field, or None when the field was left empty."""
    form = await request.form()
    item = form.get(name)
    if item is None or isinstance(item, str):
        return None
    data = await item.read()
    return data or None
