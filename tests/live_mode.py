"""Fixtures that run a test module's heartbeat tests again with live study on (core.study.live):
tests/test_study_live.py and tests/test_snapshots_live.py import them with the tests.

A module sets ``FAST_PATH_TESTS``: the tests whose ordinary beats must be answered from Redis
(``fast_answers`` fails them otherwise, so a fast path that silently fell back fails here)."""

from __future__ import annotations

import dataclasses
import os

import pytest

from core.study import live_http

REDIS_URL = os.environ.get("REDIS_URL", "")
ON_PG = os.environ.get("XUESHI_TEST_DATABASE_URL", "").startswith("postgres")
# Skipped in the SQLite run; CI's PostgreSQL run has Redis, and without it these fail there.
needs_live = pytest.mark.skipif(not ON_PG or (not REDIS_URL and not os.environ.get("CI")),
                                reason="live study needs PostgreSQL (XUESHI_TEST_DATABASE_URL) and REDIS_URL")


@pytest.fixture
def xs_settings(xs_settings):
    return dataclasses.replace(xs_settings, redis_url=REDIS_URL, study_flush_inline=True, debug=True)


@pytest.fixture(autouse=True)
def fast_answers(request, monkeypatch):
    """Counts the beats answered from Redis (see the module docstring)."""
    answered = []
    original = live_http.answer

    def counting(tenant, r):
        answered.append(r)
        return original(tenant, r)

    monkeypatch.setattr(live_http, "answer", counting)
    yield answered
    if request.node.originalname in getattr(request.module, "FAST_PATH_TESTS", ()):
        assert answered, "no beat took the fast path"




@pytest.fixture
async def xs_app(xs_app):
    """Jobs in-process, as in the other tests (with REDIS_URL the platform would queue them in
    SAQ for a worker these tests do not run)."""
    from core.jobs.builtin import collect_specs
    from core.jobs.runtime import InProcessJobs

    p = xs_app.state.platform
    p.jobs = InProcessJobs(collect_specs(p), heartbeat_seconds=p.settings.job_heartbeat_seconds)
    return xs_app


@pytest.fixture
async def test_live(platform):
    """The platform's live study, used from the test's event loop (its own Redis connection)."""
    yield platform.live
    await platform.live.close_connections()
