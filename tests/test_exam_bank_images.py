"""Question pictures: placed in an XLSX or named in a ZIP with the workbook, checked strictly,
stored, shown in the bank, on the learner's paper, exported back in place and imported again;
hostile archives and pictures refused with the reason in Chinese."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile

import openpyxl
from openpyxl.drawing.image import Image as SheetImage
from PIL import Image

from core.courses import services as courses
from core.exams import bank_images
from core.exams.checks import preview_sheets
from core.exams.mapping import propose
from core.exams.tables import Question
from core.files.tables import StoredFile
from exam_helpers import exam_learner, paper, start
from test_exam_bank_layouts import T, confirm, form_of, questions, staff, upload  # noqa: F401  (staff: fixture)

HEAD = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案"]


def picture(width: int, height: int, fmt: str = "PNG", color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


def rows(n: int, prefix: str) -> list[list[str]]:
    return [["单选", f"{prefix} 第 {i} 题：图中的标志表示（  ）。", "禁止吸烟", "当心触电", "必须戴安全帽", "紧急出口", "B"]
            for i in range(1, n + 1)]


def xlsx_with_pictures(body: list[list[str]], pictures: dict[str, bytes], headers=HEAD) -> bytes:
    """A workbook as Excel writes it: pictures placed on the sheet at a cell (``"B2"`` → bytes)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "题库"
    ws.append(headers)
    for row in body:
        ws.append(row)
    for cell, data in pictures.items():
        ws.add_image(SheetImage(io.BytesIO(data)), cell)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def zip_of(members: dict[str, bytes], encrypted: str = "") -> bytes:
    """A ZIP as an archiver writes it; ``encrypted`` names a member marked encrypted (its
    central directory entry's flag, which is what readers go by)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = bytearray(out.getvalue())
    at = data.find(b"PK\x01\x02")
    while encrypted and at >= 0:
        length = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + length].decode() == encrypted:
            data[at + 8] |= 0x1
        at = data.find(b"PK\x01\x02", at + 46)
    return bytes(data)


def decoded(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as img:
        return img.format, img.size


async def test_pictures_placed_in_an_xlsx_are_imported_stored_and_shown(client, staff, platform):
    pid = staff["position"].id
    red, blue = picture(300, 150), picture(160, 120, "JPEG", (20, 40, 220))
    # Pictures where people put them: over the stem (row 2) and beside the row (row 4, column J).
    data = xlsx_with_pictures(rows(3, "嵌入"), {"B2": red, "J4": blue})
    job, page = await upload(client, pid, data, "嵌入图片.xlsx")
    fields = form_of(page)
    assert fields["map-0-7"] == "image"  # the column 图片 added for the pictures, read as the picture
    r = await confirm(client, job, fields)
    assert r.status_code == 303, r.text[:300]
    q = await questions(pid)
    first, second, third = (q[f"嵌入 第 {i} 题：图中的标志表示（  ）。"] for i in (1, 2, 3))
    assert second.image is None and first.image and third.image and first.image != third.image
    stored = await StoredFile.objects().where(StoredFile.id == first.image).first()
    assert (stored.kind, stored.tenant, stored.media_type) == ("question_image", staff["tenant"].id, "image/jpeg")
    r = await client.get(f"{T}/admin/exams/questions/{first.id}/image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert decoded(r.content) == ("JPEG", (300, 150))  # re-encoded, not the uploaded PNG
    assert decoded((await client.get(f"{T}/admin/exams/questions/{third.id}/image")).content)[1] == (160, 120)
    assert (await client.get(f"{T}/admin/exams/questions/{second.id}/image")).status_code == 404
    bank_page = (await client.get(f"{T}/admin/exams/positions/{pid}")).text
    assert f"/admin/exams/questions/{first.id}/image" in bank_page
    assert f"/admin/exams/questions/{second.id}/image" not in bank_page

    # The export places each picture in its row's 图片 cell; imported elsewhere, the same pictures.
    exported = (await client.get(f"{T}/admin/exams/positions/{pid}/export.xlsx")).content
    ws = openpyxl.load_workbook(io.BytesIO(exported))["题目"]
    image_col = [c.value for c in ws[1]].index("图片")
    anchors = sorted((img.anchor._from.row, img.anchor._from.col) for img in ws._images)
    stems = {ws.cell(row=r + 1, column=2).value: r for r in range(1, ws.max_row)}
    assert anchors == sorted([(stems[first.stem], image_col), (stems[third.stem], image_col)])
    name = "再导入岗位"
    other = (await courses.ensure_positions(staff["tenant"], [name]))[name]
    job, page = await upload(client, other.id, exported, "export.xlsx")
    assert (await confirm(client, job, form_of(page))).status_code == 303
    again = await questions(other.id)
    # The same cleaned bytes: the stored file is shared, not copied.
    assert (again[first.stem].image, again[third.stem].image, again[second.stem].image) == (
        first.image, third.image, None)


async def test_two_pictures_on_one_row_are_refused_at_that_row(client, staff):
    job, page = await upload(client, staff["position"].id, xlsx_with_pictures(
        rows(2, "两张"), {"B2": picture(100, 100), "C2": picture(120, 100)}), "two.xlsx")
    assert "第 2 行有不止一张图片，每道题只能有一张" in page
    assert "没有可以导入" not in page  # row 3 still imports


async def test_a_zip_of_the_workbook_and_named_picture_files(client, staff):
    pid = staff["position"].id
    headers = [*HEAD, "图片"]
    body = [r + [name] for r, name in zip(rows(6, "压缩包"), [
        "q1.png", "图片/q2.JPG", "missing.png", "broken.png", "animated.gif", "huge.png"])]
    book = xlsx_with_pictures(body, {}, headers)
    huge = picture(5000, 4000)  # 20 MP declared: over the 16 MP cap for a question picture
    archive = zip_of({"题库/题库.xlsx": book, "题库/q1.png": picture(200, 100), "题库/图片/q2.JPG": picture(90, 90, "JPEG"),
                      "题库/broken.png": b"not a picture at all" * 10, "题库/animated.gif": picture(100, 100, "GIF"),
                      "题库/huge.png": huge, "__MACOSX/题库/._q1.png": b"resource fork"})
    job, page = await upload(client, pid, archive, "题库.zip")
    assert "压缩包中没有图片“missing.png”" in page
    assert "图片“broken.png”：文件不是有效的图片" in page
    assert "图片“animated.gif”：仅支持 JPG、PNG 或 WEBP 格式的图片" in page
    assert "图片“huge.png”：图片像素过大" in page
    fields = form_of(page)
    r = await confirm(client, job, {**fields, "skip_errors": "1"})
    assert r.status_code == 303, r.text[:300]
    imported = await questions(pid)
    assert len(imported) == 2  # the four rows with a refused picture are not imported
    sizes = []
    for question in imported.values():
        r = await client.get(f"{T}/admin/exams/questions/{question.id}/image")
        sizes.append(decoded(r.content)[1])
    assert sorted(sizes) == [(90, 90), (200, 100)]


def test_a_file_name_only_is_refused_without_the_zip():
    """A CSV or XLSX naming picture files without them: the cell says to upload a ZIP."""
    body = [[*rows(1, "无图")[0], "q1.png"]]
    tables = bank_images.read_bank_upload(xlsx_with_pictures(body, {}, [*HEAD, "图片"]), "x.xlsx",
                                          bank_images.Limits()).tables
    workbook = preview_sheets(tables, [propose(t.headers, t.name) for t in tables])
    (row,) = workbook.rows
    assert [e.column for e in row.errors] == ["image"]
    assert row.errors[0].message.startswith("图片“q1.png”不在上传的文件中：按文件名导入图片时，请把表格和图片一起压缩为 .zip 上传")


async def test_hostile_archives_are_refused_with_the_reason(client, staff):
    pid = staff["position"].id
    book = xlsx_with_pictures([[*rows(1, "恶意")[0], "a.png"]], {}, [*HEAD, "图片"])
    cases = {
        "不安全的文件路径“../a.png”": zip_of({"bank.xlsx": book, "../a.png": picture(100, 100)}),
        "不安全的文件路径“/etc/a.png”": zip_of({"bank.xlsx": book, "/etc/a.png": picture(100, 100)}),
        "不安全的文件路径“C:/a.png”": zip_of({"bank.xlsx": book, "C:\\a.png": picture(100, 100)}),
        "疑似压缩炸弹": zip_of({"bank.xlsx": book, "a.png": b"\0" * (20 * 1024 * 1024)}),
        "压缩包已加密": zip_of({"bank.xlsx": book, "a.png": picture(100, 100)}, encrypted="a.png"),
        "压缩包中有多个表格文件": zip_of({"bank.xlsx": book, "copy.xlsx": book}),
        "压缩包中没有题库表格": zip_of({"a.png": picture(100, 100)}),
        "压缩包已损坏": b"PK\x03\x04" + b"\0" * 200,
    }
    for message, data in cases.items():
        r = await client.post(f"{T}/admin/exams/positions/{pid}/import",
                              files={"file": ("bank.zip", data, "application/zip")})
        assert r.status_code == 400 and message in r.text, (message, r.status_code, r.text[:200])
    too_many = zip_of({"bank.xlsx": book, **{f"{i}.png": b"x" for i in range(bank_images.MAX_ZIP_MEMBERS)}})
    r = await client.post(f"{T}/admin/exams/positions/{pid}/import",
                          files={"file": ("bank.zip", too_many, "application/zip")})
    assert r.status_code == 400 and "压缩包中的文件过多" in r.text
    assert await Question.count().where(Question.stem.like("恶意%")) == 0


def test_a_picture_file_over_the_limit_refuses_the_archive(monkeypatch):
    """A picture file is read up to its limit and one byte more, then refused."""
    monkeypatch.setattr(bank_images, "MAX_IMAGE_BYTES", 2 * 1024 * 1024)
    book = xlsx_with_pictures([[*rows(1, "大图")[0], "a.png"]], {}, [*HEAD, "图片"])
    try:
        bank_images.read_bank_upload(zip_of({"b.xlsx": book, "a.png": os.urandom(2 * 1024 * 1024 + 1)}), "b.zip",
                                     bank_images.Limits())
    except bank_images.SpreadsheetRejected as exc:
        assert str(exc) == "压缩包中的图片超过 2 MB，已拒绝导入"
    else:
        raise AssertionError("an oversized picture member was read")


async def test_the_learner_sees_the_picture_of_their_own_paper_only(client, platform, make_account):
    tenant = platform.tenants.get("construction")
    ctx = await exam_learner(client, platform, make_account)
    attempt = await start(client, ctx["enrollment"].id)
    items = await paper(attempt)
    stored = await platform.storage.save(picture(240, 120, "JPEG"), tenant_id=tenant.id, kind="question_image",
                                         media_type="image/jpeg")
    answer, question = items[0]
    await Question.update({Question.image: stored.id}).where(Question.id == question.id)
    try:
        page = (await client.get(f"{T}/exams/attempts/{attempt}")).text
        assert f"/exams/attempts/{attempt}/questions/{answer.seq}/image" in page
        assert page.count('class="question-image"') == 1
        r = await client.get(f"{T}/exams/attempts/{attempt}/questions/{answer.seq}/image")
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == stored.sha256
        other_seq = items[1][0].seq
        assert (await client.get(f"{T}/exams/attempts/{attempt}/questions/{other_seq}/image")).status_code == 404
        # Another learner: not their attempt, nor the staff route.
        other = await exam_learner(client, platform, make_account)
        assert other["account"].id != ctx["account"].id
        assert (await client.get(f"{T}/exams/attempts/{attempt}/questions/{answer.seq}/image")).status_code == 404
        assert (await client.get(f"{T}/admin/exams/questions/{question.id}/image")).status_code in (403, 404)
    finally:
        await Question.update({Question.image: None}).where(Question.id == question.id)


def test_an_oversized_picture_in_an_xlsx_refuses_its_row(monkeypatch):
    monkeypatch.setattr(bank_images, "MAX_IMAGE_BYTES", 20_000)
    noise = io.BytesIO()
    Image.frombytes("RGB", (100, 100), os.urandom(30_000)).save(noise, format="PNG")  # ~30 KB, incompressible
    data = xlsx_with_pictures(rows(2, "超大"), {"B2": noise.getvalue(), "B3": picture(100, 100)})
    tables = bank_images.read_bank_upload(data, "x.xlsx", bank_images.Limits()).tables
    first, second = preview_sheets(tables, [propose(t.headers, t.name) for t in tables]).rows
    assert [(e.column, e.message) for e in first.errors] == [
        ("image", f"图片“{first.values['image']}”超过 0 MB，请压缩后再放入表格")]
    assert not second.errors and second.values["image_digest"]
