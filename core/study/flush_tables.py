"""The heartbeat buffer's watermark (core.study.buffer): how far the Redis stream of beats has
been written to the database. Updated in the same transaction as the ledger rows it covers, so
a flush that dies before its commit is simply done again and one that committed is never redone."""

from piccolo.columns import BigInt, Timestamptz, Varchar
from piccolo.table import Table


class StudyFlush(Table, tablename="study_flush"):
    """One row per Redis stream of beats (not tenant-owned: a stream carries every tenant's beats)."""

    stream = Varchar(length=200, unique=True)
    last_id = Varchar(length=40, default="0-0")  # the last stream entry written (Redis stream id)
    entries = BigInt(default=0)  # stream entries written so far
    updated_at = Timestamptz()
