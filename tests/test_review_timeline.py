"""The reviewer's timeline names an entry's figures in Chinese (core.review.timeline): the page
showed ``key=value`` with the code's English keys (``demo=True``, ``confirmed_seconds=12.0``)."""

from core.review.controllers import EVENT_LABELS
from core.review.timeline import details


def test_figures_are_named_in_chinese_reasons_by_their_labels_and_the_rest_left_out():
    shown = details({"distance": 0.61, "confirmed_seconds": 12.5, "reason": "snapshot_mismatch",
                     "after": "snapshot_no_face", "demo": True, "note": "free text", "unnamed_figure": 3},
                    EVENT_LABELS)
    assert shown == [("原因", "抓拍非本人"), ("暂停原因", "抓拍无人脸"), ("比对距离", 0.61), ("确认学时（秒）", 12.5)]
    assert details({"reason": "repeated_mismatch", "mismatches": 3}, EVENT_LABELS) == [
        ("原因", "多次抓拍非本人"), ("不一致次数", 3)]
    assert details({"reason": "no_such_reason"}, EVENT_LABELS) == []  # an unnamed reason is not shown raw
    assert details(None, EVENT_LABELS) == details({}, EVENT_LABELS) == []
