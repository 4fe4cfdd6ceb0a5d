"""The dodged-capture tests (tests/test_integrity_capture_dodged.py) again with live study on
(core.study.live): the ordinary beats are answered from Redis, the end, the capture falling due
and the completion go to the database path, and the withdrawal parks the learner first."""

from __future__ import annotations

from tests.live_mode import fast_answers, needs_live, xs_app, xs_settings  # noqa: F401
from tests.test_integrity_capture_dodged import (  # noqa: F401
    clock,
    course,
    lesson_video,
    no_faces_of_earlier_tests,
    recorder,
    test_a_closed_tab_keeps_nothing_it_did_not_cover,
    test_a_session_ended_before_its_first_capture_keeps_nothing,
    test_a_short_course_is_asked_inside_what_it_can_credit_and_waits_for_the_verdict,
    test_the_case_page_lists_sessions_with_missing_snapshots_first,
    test_the_course_never_reaches_review_without_its_evidence,
    xs_plugins,
)

pytestmark = needs_live
FAST_PATH_TESTS = {"test_a_session_ended_before_its_first_capture_keeps_nothing",
                   "test_a_closed_tab_keeps_nothing_it_did_not_cover",
                   "test_the_case_page_lists_sessions_with_missing_snapshots_first"}
