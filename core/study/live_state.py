"""The learner's live state (``core.study.live``), built from the database.

The first fast beat of a learner finds no state in Redis and rebuilds it here, under the
learner's clock lock (which parks first: the beats still in Redis are written before the rows
are read). The state is one MessagePack map; ``core.study.live_lua.BEAT`` reads and updates it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.db import write_transaction
from core.db.scoped import scoped
from core.proctoring.study_tables import ProctorSession
from core.study import services
from core.study.live import STATE_TTL, Live
from core.study.tables import LessonProgress, StudyClock, StudySession


async def hydrate(live: Live, tenant: Any, account_id: int, token: str) -> bool:
    """Rebuild the learner's state from the database, under the clock lock (which parks first).
    False when the token is not the learner's open, active session."""
    account = await scoped(Account, tenant).get(account_id, Account.active == True)  # noqa: E712
    if account is None or account.role != "learner" or account.must_change_password:
        return False
    key = live.state_key(tenant.id, account_id)
    async with write_transaction(StudyClock):
        clock = await services.locked_clock(tenant, account_id, park=False)
        if clock is None or not token or clock.active_token != token:
            return False
        if await live.redis.exists(key):  # rebuilt by a beat of the same learner we waited for
            return True
        if await live.park(tenant, account_id):
            clock = await scoped(StudyClock, tenant).objects(StudyClock.account == account_id).first()
        session = await scoped(StudySession, tenant).objects(StudySession.token == token).first()
        if session is None or session.account != account_id or session.ended_at is not None:
            return False
        progress = await scoped(LessonProgress, tenant).objects(
            (LessonProgress.account == account_id) & (LessonProgress.lesson == session.lesson)).first()
        enrollment = await scoped(Enrollment, tenant).get(session.enrollment)
        if progress is None or enrollment is None:
            return False
        ps = await scoped(ProctorSession, tenant).objects(ProctorSession.session == token).output(
            load_json=True).first()
        proctor = ps is not None and not ps.alternative
        rules = tenant.rules.study
        plan = list(ps.plan or []) if proctor else []
        next_at = plan[ps.next_index] if proctor and ps.next_index < len(plan) else -1.0
        state = {
            "tenant": tenant.id, "session_id": session.id, "token": token, "lesson": str(session.lesson),
            "enrollment": enrollment.id, "progress_id": progress.id, "proctor_id": ps.id if proctor else 0,
            "clock_id": clock.id, "seq": session.last_seq, "last": clock.last_beat_at,
            "pos": progress.position, "far": progress.furthest, "lcred": progress.credited_seconds,
            "completed": progress.completed, "dur": session.duration_seconds,
            "day": clock.day, "dsec": clock.day_seconds, "cap": rules.daily_cap_minutes * 60.0,
            "tol": float(rules.tolerance_seconds), "needed": session.required_seconds,
            "ecred": enrollment.credited_seconds, "status": enrollment.status,
            "studying": enrollment.status in services.STUDYING,
            "proctor": proctor, "paused": ps is not None and ps.paused,
            "ticket": ps.ticket if proctor else "", "due": ps.ticket_due if proctor else 0.0,
            "next_at": float(next_at), "studied": ps.studied if proctor else 0.0,
            "prov": ps.provisional if proctor else 0.0,
            "idle_rep": ps is not None and ps.idle_reported,  # as player_evidence
            "idle_limit": float(rules.idle_seconds) if ps is not None else 1e18,
            "began": session.began, "origin": session.origin, "hidden": session.hidden,
        }
        await live.redis.set(key, msgspec.msgpack.encode(state), ex=STATE_TTL)
    return True

