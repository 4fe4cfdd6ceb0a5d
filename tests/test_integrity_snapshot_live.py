"""The still-snapshot tests (tests/test_integrity_snapshot_still.py) again with live study on
(core.study.live): the beats before each capture are answered from Redis."""

from __future__ import annotations

from tests.live_mode import fast_answers, needs_live, xs_app, xs_settings  # noqa: F401
from tests.test_integrity_snapshot_still import (  # noqa: F401
    clock,
    course,
    lesson_video,
    no_faces_of_earlier_tests,
    recorder,
    test_a_live_burst_of_the_learner_passes_and_the_case_page_says_why_others_did_not,
    test_an_earlier_snapshot_sent_again_is_refused_and_flagged,
    test_the_id_card_photo_is_not_a_snapshot,
    test_the_learners_own_portrait_is_not_a_snapshot,
    xs_plugins,
)

pytestmark = needs_live
FAST_PATH_TESTS = {"test_the_learners_own_portrait_is_not_a_snapshot",
                   "test_an_earlier_snapshot_sent_again_is_refused_and_flagged"}
