"""Certificate speed: one certificate through the product against the bare WeasyPrint render of
the same HTML, and certificates per second in the batch job.

    uv run python benchmarks/bench_certificates.py [learners]

Prints, in one run on a fresh SQLite database:
(a) bare WeasyPrint: ``weasyprint.HTML(string=html).write_pdf()`` of the very HTML the product
    rendered, in this process (median of 10; the font loaded anew each time, as a plain call
    does), and the same with one reused ``FontConfiguration`` (what each product worker keeps);
(b) ``services.issue`` end to end (eligibility, hook, template, QR code, render in the pdf
    process pool, storage, SHA-256, insert; median of 10 learners), with its ratio to both bare
    figures; product and bare runs alternate, certificate by certificate;
(c) the batch job (``issue_certificates``, in-process runner) over N learners: certificates
    per second, wall clock from enqueue to the job's completion.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def learners(tenant, n: int) -> list:
    from core.accounts.tables import Account
    from core.courses.tables import Course, Enrollment, Position
    from core.study.services import seconds_per_hour
    from core.testing.ids import fake_id_number, fake_mobile

    now = dt.datetime.now(dt.UTC)
    position = Position(tenant=tenant.id, name=f"资料员{secrets.token_hex(2)}", created_at=now)
    await position.save()
    course = Course(tenant=tenant.id, position=position.id, year=2026, title="资料员继续教育", required_hours=32.0,
                    created_at=now)
    await course.save()
    out = []
    for i in range(n):
        account = Account(tenant=tenant.id, role="learner", real_name=f"欧阳明{'华国建平'[i % 4]}",
                          id_number=fake_id_number(), mobile=fake_mobile(), password_hash="x", created_at=now)
        await account.save()
        e = Enrollment(tenant=tenant.id, account=account.id, course=course.id, status="approved",
                       credited_seconds=32 * seconds_per_hour(tenant), created_at=now)
        await e.save()
        out.append(e)
    return out


async def main(batch_size: int) -> None:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    from core import tenant_time
    from core.certificates import jobs, render, services
    from core.jobs.tables import JobRun
    from core.kernel import build_platform, deploy
    from core.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="xs-bench-cert-"))
    env = {"DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "XUESHI_VAR_DIR": str(tmp),
           "XUESHI_SECRET_KEY": "bench"}
    platform = build_platform(Settings.from_env(env))
    await deploy(platform)
    await platform.start()
    try:
        tenant = platform.tenants.get("construction")
        hooks = platform.hooks(tenant)
        singles = await learners(tenant, 11)
        # Warm: font, templates, and every worker process of the pdf pool.
        warm = await learners(tenant, render.PROCESSES)
        await asyncio.gather(*(services.issue(platform, hooks, tenant, e) for e in warm))
        await services.issue(platform, hooks, tenant, singles[0])
        fetcher = render._fetcher()
        config = FontConfiguration()
        product, bare_new, bare_shared = [], [], []
        # Interleaved: each product certificate, then the bare renders of its very HTML, so a
        # change of load on the shared machine weighs on both sides alike.
        for e in singles[1:]:
            t0 = time.perf_counter()
            await services.issue(platform, hooks, tenant, e)
            product.append(time.perf_counter() - t0)
            cert = await services.current(tenant, e.id)
            view = render.CertificateView(
                holder_name=cert.holder_name, id_masked=cert.id_masked, position=cert.position, year=cert.year,
                hours=services.hours_text(cert.hours), institution=cert.institution,
                issued_on=tenant_time.document_date(cert.issued_at, tenant_time.zone(tenant)), number=cert.number,
                code=services.display_code(cert.code), verify_url=services.verify_url(platform, tenant, cert.code))
            html = await render.certificate_html(platform.templates, tenant, view)
            if not bare_shared:
                weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=config)  # warm
            t0 = time.perf_counter()
            weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
            bare_new.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=config)
            bare_shared.append(time.perf_counter() - t0)

        p, bn, bs = (statistics.median(x) for x in (product, bare_new, bare_shared))
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (1 min), "
              f"weasyprint {weasyprint.__version__}")
        print(f"(a) bare WeasyPrint, new FontConfiguration each: {bn * 1000:.0f} ms (median of 10)")
        print(f"(a) bare WeasyPrint, reused FontConfiguration:  {bs * 1000:.0f} ms (median of 10)")
        print(f"(b) one certificate through the product:         {p * 1000:.0f} ms (median of 10)")
        print(f"    ratio product / bare (reused fonts): {p / bs:.2f}x   product / bare (plain call): {p / bn:.2f}x")

        workers = int(os.environ.get("XUESHI_PDF_PROCESSES", render.PROCESSES))
        mode = f"{workers} processes" if workers > 0 else "threads (XUESHI_PDF_PROCESSES=0)"
        await learners(tenant, batch_size)
        todo = len(await jobs.eligible_enrolments(platform.hooks(tenant), tenant)) - len(singles) - len(warm)
        t0 = time.perf_counter()
        await platform.jobs.enqueue(jobs.issue_certificates, tenant=tenant, key="bench-batch")
        while True:
            run = await JobRun.objects().where(JobRun.key == "bench-batch").first()
            if run is not None and run.status in ("complete", "failed"):
                break
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - t0
        assert run.status == "complete", run.error
        print(f"(c) batch job: {todo} certificates in {wall:.1f} s = {todo / wall:.1f} certificates/s "
              f"(pdf pool: {mode}, {jobs.BATCH_CONCURRENCY} in flight; "
              f"load average {os.getloadavg()[0]:.1f} at the end)")
    finally:
        await platform.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
