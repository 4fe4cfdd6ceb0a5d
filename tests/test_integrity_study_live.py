"""The cheater's suite for study (hidden page, position drift, the honest end of a lesson), run
again with live study on: ordinary beats decided in Redis by the Lua rule, the rest by the
database path (tests/live_mode.py). A hidden page's beats and the first beat back are always the
database path's; the session's bound on the position is applied by both.

Needs PostgreSQL (XUESHI_TEST_DATABASE_URL) and Redis (REDIS_URL); CI runs it on both.
"""

from __future__ import annotations

from tests.live_mode import fast_answers, needs_live, test_live, xs_app, xs_settings  # noqa: F401
from tests.test_integrity_study_drift import (  # noqa: F401
    test_an_honest_player_is_not_held_back_by_the_bound,
    test_five_beats_a_second_cannot_move_the_position_faster_than_the_clock,
    test_the_lesson_is_not_finished_before_its_duration_has_passed,
)
from tests.test_integrity_study_hidden import (  # noqa: F401
    test_a_hidden_page_earns_nothing_even_when_it_claims_visible_afterwards,
    test_a_hide_report_then_a_quick_visible_claim_with_a_far_position_is_refused,
    test_a_paused_or_stalled_player_earns_nothing,
    test_the_players_hide_and_return_credit_what_played_before_and_nothing_while_hidden,
)
from tests.test_integrity_study_honest import (  # noqa: F401
    test_a_forward_jump_is_told_it_cannot_skip_ahead,
    test_a_lesson_end_after_a_pause_shows_no_red_message_and_leaves_no_refused_rows,
)
from tests.test_study import clock, lesson_video, studying  # noqa: F401

pytestmark = needs_live
FAST_PATH_TESTS = {
    "test_five_beats_a_second_cannot_move_the_position_faster_than_the_clock",
    "test_the_lesson_is_not_finished_before_its_duration_has_passed",
    "test_an_honest_player_is_not_held_back_by_the_bound",
    "test_a_hidden_page_earns_nothing_even_when_it_claims_visible_afterwards",
    "test_the_players_hide_and_return_credit_what_played_before_and_nothing_while_hidden",
    "test_a_lesson_end_after_a_pause_shows_no_red_message_and_leaves_no_refused_rows",
}
