"""The snapshot tests of the heartbeat (tests/test_snapshots.py) again with live study on
(core.study.live): a capture falling due, a ticket taken, a verdict withdrawing or confirming
seconds, idle and hidden pages, all while the ordinary beats are answered from Redis."""

from __future__ import annotations

import pytest

from tests.live_mode import fast_answers, needs_live, xs_app, xs_settings  # noqa: F401
from tests.test_snapshots import (  # noqa: F401
    clock,
    course,
    lesson_video,
    recorder,
    test_a_capture_that_never_arrives_counts_as_a_bad_snapshot,
    test_a_ticket_is_the_learners_own_and_taken_once,
    test_idle_hidden_and_a_second_device_are_on_the_timeline,
    test_other_person_pauses_withdraws_provisional_hours_and_needs_a_new_face_check,
    test_same_person_snapshot_is_matched_in_a_job_and_confirms_the_hours,
    xs_plugins,
)

pytestmark = needs_live


@pytest.fixture(autouse=True)
async def no_faces_of_earlier_tests(xs_app):
    """The same photos studying in tests/test_snapshots.py (before or after these) would flag
    the learners as one face studying for several accounts: no encoding outlives its test."""
    from core.proctoring.study_tables import FaceEncoding

    await FaceEncoding.delete(force=True)
    yield
    await FaceEncoding.delete(force=True)
FAST_PATH_TESTS = {"test_same_person_snapshot_is_matched_in_a_job_and_confirms_the_hours",
                   "test_other_person_pauses_withdraws_provisional_hours_and_needs_a_new_face_check",
                   "test_a_capture_that_never_arrives_counts_as_a_bad_snapshot"}
