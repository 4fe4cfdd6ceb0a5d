"""What a reviewer reads of a timeline entry's ``detail`` (``core.study.tables.StudyEvent``): the
figures under Chinese names, in a fixed order. Keys without a name here are not shown (the row
keeps them), so a figure a flow adds never reaches the page as a raw English key."""

from __future__ import annotations

from typing import Any

DETAIL_LABELS = {
    "reason": "原因", "after": "暂停原因", "distance": "比对距离", "faces": "人脸数",
    "mismatches": "不一致次数", "snapshots": "计划抓拍次数", "confirmed_seconds": "确认学时（秒）",
    "withdrawn_seconds": "撤回学时（秒）", "overdue_seconds": "超时（秒）", "seconds": "无操作（秒）",
    "position": "播放位置（秒）", "request": "申请编号",
}
FLAG_REASONS = {"repeated_mismatch": "多次抓拍非本人", "shared_face": "与其他学员人脸相同"}


def details(detail: dict[str, Any] | None, kinds: dict[str, str]) -> list[tuple[str, Any]]:
    """(label, value) pairs of ``detail``: numbers as they are, a reason named by its label (an
    event kind from ``kinds`` or a flag reason); a value with no Chinese name is left out."""
    names = {**kinds, **FLAG_REASONS}
    shown = []
    for key, label in DETAIL_LABELS.items():
        value = (detail or {}).get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, str):
            if value not in names:
                continue
            value = names[value]
        shown.append((label, value))
    return shown
