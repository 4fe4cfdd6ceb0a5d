"""Extra lines on a certificate from the ``certificate_fields`` hook: a company, a photo, a seal.

A plugin returns ``CertificateField`` items when a certificate is issued. Text fields are printed
and kept with the certificate (``Certificate.fields``, JSON), so the public verification page shows
them as issued (unless ``public=False``); images are printed on the PDF only, as ``data:`` URIs
(WeasyPrint loads nothing else): PNG or JPEG bytes from the plugin, or one of the holder's own
stored images by id (their portrait), read through the tenant's scope.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from core.db.scoped import scoped
from core.files.limits import MAX_UPLOAD_BYTES
from core.files.tables import StoredFile
from core.hookcalls import Hooks, collect
from core.tenancy import Tenant

IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


@dataclass(frozen=True)
class CertificateField:
    """One extra line of a certificate: ``label`` with a text ``value``, or with an image — PNG or
    JPEG ``image`` bytes, or ``image_file``, the id of a stored image of the holder (e.g. their
    portrait). ``public=False`` keeps a text field off the verification page."""

    label: str
    value: str = ""
    image: bytes = b""
    image_file: int | None = None
    public: bool = True


@dataclass(frozen=True)
class PrintedField:
    """A field as the certificate template prints it: ``image`` is a ``data:`` URI or ""."""

    label: str
    value: str = ""
    image: str = ""


def _data_uri(data: bytes, label: str) -> str:
    kind = next((t for magic, t in IMAGE_TYPES.items() if data.startswith(magic)), None)
    if kind is None or len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"certificate field {label!r}: an image must be PNG or JPEG of at most "
                         f"{MAX_UPLOAD_BYTES} bytes")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


async def _image(platform: Any, tenant: Tenant, field: CertificateField, holder_id: int) -> str:
    if field.image:
        return _data_uri(field.image, field.label)
    stored = await scoped(StoredFile, tenant).get(field.image_file)
    if stored is None or stored.owner != holder_id:  # gone (purged), or not the holder's own image
        return ""
    return _data_uri(await platform.storage.read(stored), field.label)


async def certificate_fields(platform: Any, hooks: Hooks, tenant: Tenant, certificate: Any,
                             account: Any) -> tuple[tuple[PrintedField, ...], str]:
    """The plugins' fields for ``certificate`` (unsaved) of ``account``: what the PDF prints, and
    the JSON kept in ``Certificate.fields`` (the public text fields)."""
    printed: list[PrintedField] = []
    kept: list[dict[str, str]] = []
    for field in await collect(hooks.certificate_fields, tenant=tenant, certificate=certificate, account=account):
        if not isinstance(field, CertificateField):
            raise TypeError(f"certificate_fields must return CertificateField items, not {type(field).__name__}")
        if field.image or field.image_file is not None:
            image = await _image(platform, tenant, field, account.id)
            if image:
                printed.append(PrintedField(field.label, image=image))
        elif field.value:
            printed.append(PrintedField(field.label, field.value))
            if field.public:
                kept.append({"label": field.label, "value": field.value})
    return tuple(printed), json.dumps(kept, ensure_ascii=False)


def kept_fields(certificate: Any) -> tuple[tuple[str, str], ...]:
    """The public text fields kept with ``certificate``: (label, value) pairs."""
    return tuple((f["label"], f["value"]) for f in json.loads(certificate.fields or "[]"))
