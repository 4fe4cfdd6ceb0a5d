"""What tenants and the operator see of jobs: one row per run of a job, whatever ran it."""

from piccolo.columns import JSON, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from core.tenants.tables import TenantRow


class JobRun(Table, tablename="job_run"):
    """A job from enqueue (or cron) to its end, across attempts, retries and resumptions.

    ``key`` is the queue's job key (SAQ's, or the in-process runner's): re-enqueuing the same key
    while it is unfinished continues this row. ``tenant`` is empty for platform jobs (cron).
    """

    tenant = ForeignKey(references=TenantRow, null=True)
    key = Varchar(length=120, index=True)
    function = Varchar(length=120)
    label = Varchar(length=200, default="")  # shown to people (Chinese)
    kwargs = JSON(default={})
    status = Varchar(length=16, default="queued")  # queued | active | retrying | complete | failed
    attempts = Integer(default=0)
    max_attempts = Integer(default=1)
    done = Integer(default=0)  # progress: units done of ``total`` (rows, tenants, …)
    total = Integer(default=0)
    error = Text(default="")  # the last attempt's error, short
    result = JSON(default={})
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    heartbeat_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
