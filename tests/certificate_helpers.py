"""Shared by the certificate tests: approved enrolments, signing in, reading PDFs."""

from __future__ import annotations

import datetime as dt
import io
import secrets
import subprocess
import tempfile
from pathlib import Path

from core.courses.tables import Course, Enrollment, Position
from core.study.services import seconds_per_hour


async def approved_enrolment(platform, make_account, slug: str = "construction", *, name: str = "张三丰",
                             status: str = "approved", hours: float = 32.0, year: int = 2026,
                             position_name: str | None = None, **fields):
    """A learner with an enrolment whose review is approved (status set directly: these tests
    are about certificates, not review) and all required hours credited."""
    tenant = platform.tenants.get(slug)
    now = dt.datetime.now(dt.UTC)
    position = None
    if position_name:  # a named position (e.g. one the tenant's rules give an exam), shared
        position = await Position.objects().where((Position.tenant == tenant.id) & (Position.name == position_name)).first()
    if position is None:
        position = Position(tenant=tenant.id, name=position_name or f"资料员{secrets.token_hex(2)}", created_at=now)
        await position.save()
    course = Course(tenant=tenant.id, position=position.id, year=year, title="资料员继续教育", required_hours=hours,
                    created_at=now)
    await course.save()
    account, password = await make_account(slug, real_name=name, **fields)
    enrollment = Enrollment(tenant=tenant.id, account=account.id, course=course.id, status=status,
                            credited_seconds=hours * seconds_per_hour(tenant), created_at=now)
    await enrollment.save()
    return tenant, account, password, enrollment


async def sign_in(client, slug: str, account, password: str) -> None:
    if slug == "construction":
        r = await client.signin(slug, "id", password, id_number=account.id_number)
    else:
        r = await client.signin(slug, "mobile", password, mobile=account.mobile)
    assert r.status_code == 303


def pdf_text(data: bytes) -> str:
    import pypdf

    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def pdf_to_png(data: bytes, dpi: int = 150) -> Path:
    """The first page as PNG through poppler's pdftoppm."""
    folder = Path(tempfile.mkdtemp(prefix="xs-cert-"))
    (folder / "c.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", "1", "-l", "1", "-singlefile", str(folder / "c.pdf"),
                    str(folder / "page")], check=True, timeout=60)
    return folder / "page.png"


def missing_glyphs(data: bytes) -> list[str]:
    """Glyphs drawn in the PDF that their font cannot draw: glyph 0 (.notdef, the box) or an id
    past the embedded font's glyphs (what a character no font has becomes). Empty when every
    shown glyph exists."""
    import pypdf
    from fontTools.ttLib import TTFont
    from pypdf.generic import ContentStream

    reader = pypdf.PdfReader(io.BytesIO(data))
    problems = []
    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]
        counts: dict[str, int] = {}
        for name, ref in fonts.items():
            font = ref.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            program = next((descriptor[k].get_object() for k in ("/FontFile2", "/FontFile3", "/FontFile")
                            if k in descriptor), None)
            assert program is not None, f"font {name} is not embedded"
            raw = program.get_data()
            try:
                counts[name] = len(TTFont(io.BytesIO(raw)).getGlyphOrder())
            except Exception:  # bare CFF (FontFile3/CIDFontType0C)
                from fontTools.cffLib import CFFFontSet

                cff = CFFFontSet()
                cff.decompile(io.BytesIO(raw), None)
                counts[name] = len(cff[cff.fontNames[0]].charset)
        current = None
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"Tf":
                current = operands[0]
            elif operator in (b"TJ", b"Tj"):
                items = operands[0] if operator == b"TJ" else [operands[0]]
                for item in items:
                    if not isinstance(item, bytes | pypdf.generic.ByteStringObject | pypdf.generic.TextStringObject):
                        continue
                    raw = bytes(item.original_bytes if hasattr(item, "original_bytes") else item)
                    gids = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw) - 1, 2)]
                    for gid in gids:
                        if gid == 0 or gid >= counts[current]:
                            problems.append(f"{current}: glyph {gid}")
    return problems


def ink(png: Path) -> int:
    """Dark pixels on the page."""
    import cv2

    image = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    return int((image < 128).sum())
