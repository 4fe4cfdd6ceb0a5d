"""批量登记: upload → preview with every row's errors → confirm → progress; idempotent; 10,000
rows; malformed files change nothing."""

import asyncio
import io
import json
import zipfile

import openpyxl

from core.roster.tables import ImportJob, RosterEntry
from core.testing.ids import fake_id_number, fake_mobile
from plugins.survey_association.tests._company_helpers import company, csv_bytes, signed_in_admin, xlsx

IMPORT = "/t/survey/company/learners/import"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _upload(client, data: bytes, name="roster.xlsx"):
    return await client.post(IMPORT, files={"file": (name, data, XLSX_TYPE)})


async def _count(enterprise) -> int:
    return await RosterEntry.count().where(RosterEntry.enterprise == enterprise.id)


async def _confirm_and_wait(client, job_url, skip_errors=False):
    r = await client.post(f"{job_url}/confirm", {"skip_errors": "1"} if skip_errors else {})
    assert r.status_code == 303, r.text[-1500:]
    for _ in range(1200):  # a job runs the commit (in-process here: no Redis); poll like the page does
        progress = await client.hx_get(f"{job_url}/progress")
        if 'data-status="running"' not in progress.text and 'data-status="queued"' not in progress.text:
            break
        assert 'hx-trigger="every 1s"' in progress.text
        await asyncio.sleep(0.1)
    assert 'data-status="done"' in progress.text, progress.text
    return progress


async def test_preview_lists_exactly_the_errors_then_valid_rows_import(client, tenant, make_account):
    enterprise, _ = await signed_in_admin(client, tenant("survey"), make_account)
    good = [("张一", fake_id_number(), fake_mobile(), "勘察员"), ("张二", fake_id_number(), "", "资料员"),
            ("张三", fake_id_number(), fake_mobile(), "安全员")]
    bad = [("李四", "110105199001011231", "1380000", "勘察员"), ("", fake_id_number(), fake_mobile(), "厨师")]
    data = xlsx([good[0], bad[0], good[1], bad[1], good[2]])
    r = await _upload(client, data)
    assert r.status_code == 303
    job_url = r.headers["location"]
    page = await client.get(job_url)
    assert page.status_code == 200
    assert "共 5 行，正确 3 行" in page.text and "错误 2 行" in page.text
    assert page.text.count('class="row-error"') == 2
    for message in ("身份证号校验位不正确", "手机号格式不正确", "姓名不能为空", "岗位“厨师”不在可选岗位中"):
        assert page.text.count(message) == 1, message
    assert good[0][1] not in page.text and good[0][2] not in page.text  # masked
    # Not confirmable without the explicit choice; nothing written.
    r = await client.post(f"{job_url}/confirm", {})
    assert r.status_code == 400 and "忽略错误行" in r.text
    assert await _count(enterprise) == 0
    progress = await _confirm_and_wait(client, job_url, skip_errors=True)
    assert "新增 3 人" in progress.text and "跳过错误行 2 行" in progress.text
    assert await _count(enterprise) == 3
    # Same file again: preview marks them as existing, confirm changes nothing.
    r = await _upload(client, data)
    again = r.headers["location"]
    assert (await client.get(again)).text.count("已在名单中，将更新") == 3
    progress = await _confirm_and_wait(client, again, skip_errors=True)
    assert "新增 0 人" in progress.text and "未变化 3 人" in progress.text
    assert await _count(enterprise) == 3


async def test_gbk_csv_duplicates_in_file_and_people_of_other_companies(client, tenant, make_account):
    t = tenant("survey")
    other = await company(t)
    taken = fake_id_number()
    await RosterEntry(tenant=t.id, enterprise=other.id, real_name="外人", id_number=taken).save()
    enterprise, _ = await signed_in_admin(client, t, make_account)
    twice = fake_id_number()
    data = csv_bytes([("甲", twice, "", "勘察员"), ("乙", twice, "", "勘察员"), ("丙", taken, "", "勘察员")],
                     encoding="gbk")
    r = await client.post(IMPORT, files={"file": ("名单.csv", data, "text/csv")})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "与第 2 行的身份证号重复" in page.text and "已被其他企业登记为学员" in page.text
    assert "甲" in page.text  # decoded from GBK
    assert "错误 2 行" in page.text


async def test_ten_thousand_rows_import_and_reimport_does_not_duplicate(client, tenant, make_account):
    enterprise, _ = await signed_in_admin(client, tenant("survey"), make_account)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["姓名", "身份证号", "手机号", "岗位"])
    base = 700_000 + (enterprise.id % 50) * 10_000
    ids = set()
    for i in range(10_000):
        n = base + i
        id_number = fake_id_number(n, area="3301%02d" % (n // 1000 % 100), birth="1985%02d01" % (1 + n % 12))
        ids.add(id_number)
        ws.append([f"学员{i}", id_number, f"139{n:08d}"[:11], "勘察员"])
    assert len(ids) == 10_000
    out = io.BytesIO()
    wb.save(out)
    r = await _upload(client, out.getvalue())
    assert r.status_code == 303, r.text[-500:]
    job_url = r.headers["location"]
    page = await client.get(job_url)
    assert "共 10000 行，正确 10000 行" in page.text
    await _confirm_and_wait(client, job_url)
    assert await _count(enterprise) == 10_000
    job = await ImportJob.objects().where(ImportJob.id == int(job_url.rsplit("/", 1)[1])).first()
    assert job.processed_rows == 10_000 and job.status == "done" and json.loads(job.summary)["created"] == 10_000
    r = await _upload(client, out.getvalue())
    await _confirm_and_wait(client, r.headers["location"])
    assert await _count(enterprise) == 10_000


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", "<sheetData>" + " " * (60 * 1024 * 1024) + "</sheetData>")
    return buf.getvalue()


async def test_malformed_files_get_a_clear_message_and_change_nothing(client, tenant, make_account):
    t = tenant("survey")
    enterprise, _ = await signed_in_admin(client, t, make_account)
    jobs_before = await ImportJob.count().where(ImportJob.enterprise == enterprise.id)
    row = ("张三", fake_id_number(), fake_mobile(), "勘察员")
    too_many = csv_bytes([("某人", fake_id_number(i), "", "勘察员") for i in range(t.rules.roster.max_import_rows + 1)])
    cases = [
        (b"just some notes, not a spreadsheet\n", "notes.xlsx", "文件不是有效的 Excel 表格"),
        (b"", "empty.xlsx", "文件是空的"),
        (_zip_bomb(), "bomb.xlsx", "压缩炸弹"),
        (xlsx([row], headers=["名字", "证件", "电话"]), "wrong.xlsx", "表头缺少必需的列：姓名、身份证号"),
        (xlsx([("张" * 40_000, row[1], row[2], row[3])]), "huge.xlsx", "内容过长"),
        (csv_bytes([("张" * 40_000, row[1], row[2], row[3])]), "huge.csv", "内容过长"),
        (too_many, "many.csv", f"超过 {t.rules.roster.max_import_rows} 行的上限"),
        (b"\x00\x01\x02binary", "x.csv", "不是表格文件"),
        # Issue 8 #15: a text file named .txt said "表头缺少必需的列" instead of naming the file type.
        ("姓名,身份证号,手机号,岗位\n张三,1,2,勘察员\n".encode(), "名单.txt", "不支持 .txt 文件，请上传 Excel 表格（.xlsx）或 CSV 文件（.csv）"),
        ("备注".encode(), "notes.docx", "不支持 .docx 文件"),
        (b"PK\x03\x04broken zip", "broken.xlsx", "文件已损坏"),
    ]
    for data, name, message in cases:
        r = await _upload(client, data, name)
        assert r.status_code == 400, name
        assert message in r.text, (name, r.text[-1500:])
    assert await _count(enterprise) == 0
    assert await ImportJob.count().where(ImportJob.enterprise == enterprise.id) == jobs_before


async def test_templates_download_and_another_company_job_is_404(client, tenant, make_account):
    t = tenant("survey")
    await signed_in_admin(client, t, make_account)
    r = await client.get(f"{IMPORT}/template.xlsx")
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
    assert [c for c in next(ws.iter_rows(values_only=True))] == ["姓名", "身份证号", "手机号", "岗位"]
    r = await client.get(f"{IMPORT}/template.csv")
    assert r.status_code == 200 and r.content.decode("utf-8-sig").startswith("姓名,身份证号,手机号,岗位")
    other = await company(t)
    job = ImportJob(tenant=t.id, enterprise=other.id, kind="roster", filename="x.xlsx")
    await job.save()
    for url in (f"{IMPORT}/{job.id}", f"{IMPORT}/{job.id}/progress"):
        assert (await client.get(url)).status_code == 404
    assert (await client.post(f"{IMPORT}/{job.id}/confirm", {"skip_errors": "1"})).status_code == 404


async def test_the_upload_is_parsed_once_and_the_commit_imports_the_previewed_rows(
        client, tenant, make_account, platform):
    """Issue 8 #3: preview pages, confirm and the import job read the rows kept at upload; the
    uploaded file itself is not kept (the job's file holds the parsed rows)."""
    from core.files.tables import StoredFile
    from core.roster.spreadsheets import PARSED_MEDIA_TYPE

    enterprise, _ = await signed_in_admin(client, tenant("survey"), make_account)
    rows = [("赵一", fake_id_number(), fake_mobile(), "勘察员"), ("赵二", fake_id_number(), "", "资料员")]
    data = xlsx(rows)
    r = await _upload(client, data)
    assert r.status_code == 303
    job_url = r.headers["location"]
    job = await ImportJob.objects().where(ImportJob.id == int(job_url.rsplit("/", 1)[1])).first()
    stored = await StoredFile.objects().where(StoredFile.id == job.file).first()
    assert stored.media_type == PARSED_MEDIA_TYPE and stored.kind == "import"
    kept = await platform.storage.read(stored)
    assert kept != data  # the upload is not what is kept
    # The later steps use the kept rows and nothing else: an edit of them (here on disk) is what
    # the preview shows and the commit imports.
    platform.storage.path(stored).write_bytes(kept.replace("赵二".encode(), "赵二改".encode()))
    page = await client.get(job_url)
    assert page.status_code == 200 and "共 2 行，正确 2 行" in page.text and "赵二改" in page.text
    assert (await client.get(f"{job_url}?errors=1")).status_code == 200
    progress = await _confirm_and_wait(client, job_url)
    assert "新增 2 人" in progress.text
    imported = await RosterEntry.objects().where(RosterEntry.enterprise == enterprise.id)
    assert sorted((e.real_name, e.id_number) for e in imported) == sorted(
        [("赵一", rows[0][1]), ("赵二改", rows[1][1])])


async def test_a_purged_import_file_is_404_not_a_500(client, tenant, make_account, platform):
    await signed_in_admin(client, tenant("survey"), make_account)
    id_number = fake_id_number()
    r = await _upload(client, xlsx([("钱一", id_number, "", "勘察员")]))
    job_url = r.headers["location"]
    job = await ImportJob.objects().where(ImportJob.id == int(job_url.rsplit("/", 1)[1])).first()
    from core.files.tables import StoredFile

    await platform.storage.delete(await StoredFile.objects().where(StoredFile.id == job.file).first())
    assert (await client.get(job_url)).status_code == 404
    assert (await client.post(f"{job_url}/confirm", {})).status_code == 404
    assert await RosterEntry.count().where(RosterEntry.id_number == id_number) == 0  # nothing imported


async def test_reimport_updates_the_changed_rows_and_only_those(client, tenant, make_account):
    """Issue 8 #17: the same people again with a new name, mobile or position are updated."""
    enterprise, _ = await signed_in_admin(client, tenant("survey"), make_account)
    ids = [fake_id_number() for _ in range(3)]
    first = [("孙一", ids[0], fake_mobile(), "勘察员"), ("孙二", ids[1], fake_mobile(), "资料员"),
             ("孙三", ids[2], fake_mobile(), "安全员")]
    await _confirm_and_wait(client, (await _upload(client, xlsx(first))).headers["location"])
    new_mobile = fake_mobile()
    second = [("孙一改", ids[0], first[0][2], "勘察员"), ("孙二", ids[1], new_mobile, "安全员"), first[2]]
    progress = await _confirm_and_wait(client, (await _upload(client, xlsx(second))).headers["location"])
    assert "新增 0 人，更新 2 人，未变化 1 人" in progress.text
    entries = {e.id_number: e for e in await RosterEntry.objects().where(RosterEntry.enterprise == enterprise.id)}
    assert len(entries) == 3
    assert (entries[ids[0]].real_name, entries[ids[0]].mobile, entries[ids[0]].position) == ("孙一改", first[0][2], "勘察员")
    assert (entries[ids[1]].real_name, entries[ids[1]].mobile, entries[ids[1]].position) == ("孙二", new_mobile, "安全员")
    assert (entries[ids[2]].real_name, entries[ids[2]].position) == ("孙三", "安全员")
