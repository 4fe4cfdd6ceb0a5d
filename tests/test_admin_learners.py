"""学员管理 (/admin/learners): the page a roster import lands on. It answered HTTP 500 (its
column headers, passed to render() as ``headers=``, became the response's HTTP headers)."""

from __future__ import annotations

import re

from core.courses.services import LEARNER_HEADERS
from core.roster.spreadsheets import write_csv
from core.testing.ids import fake_id_number, fake_mobile

T = "/t/construction"


async def test_an_import_lands_on_the_learner_list_which_shows_the_columns_and_searches(client, make_account):
    admin, password = await make_account("construction", role="tenant_admin")
    assert (await client.signin("construction", "id", password, id_number=admin.id_number)).status_code == 303
    names = ["甲学员" + fake_mobile()[-4:], "乙学员" + fake_mobile()[-4:]]
    rows = [[name, fake_id_number(), fake_mobile(), "安全员", ""] for name in names]
    r = await client.post(f"{T}/admin/learners/import", {}, files={"file": ("l.csv", write_csv(LEARNER_HEADERS, rows),
                                                                            "text/csv")})
    assert r.status_code == 200, r.text[-2000:]
    job_id = int(re.search(r"/admin/learners/import/(\d+)", r.text).group(1))
    r = await client.post(f"{T}/admin/learners/import/{job_id}", {})
    assert r.status_code == 303 and r.headers["location"] == f"{T}/admin/learners?imported={job_id}"

    page = await client.get(r.headers["location"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"表头：{'、'.join(LEARNER_HEADERS)}。" in page.text  # the template's variable, not an HTTP header
    assert all(name in page.text for name in names)
    found = await client.get(f"{T}/admin/learners", params={"q": names[0]})
    assert found.status_code == 200 and names[0] in found.text and names[1] not in found.text
