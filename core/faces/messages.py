"""Chinese texts of the face engine (short, plain words a learner understands).

Kept in one place so that the web layer can wrap them in gettext later and tests can refer to
them by name.
"""

FACE_ERROR = "人脸处理失败"
INVALID_IMAGE = "无法识别的图片，请上传 JPG 或 PNG 照片"

# Portrait quality gate
Q_OK = "照片合格"
Q_NO_FACE = "未检测到人脸，请正对镜头重新拍摄"
Q_MULTIPLE_FACES = "照片中有多张人脸，请只保留本人"
Q_INCOMPLETE = "人脸不完整，请将整张脸置于画面中"
Q_TOO_SMALL = "人脸太小，请靠近镜头"
Q_TOO_DARK = "光线太暗"
Q_TOO_BRIGHT = "光线过亮"
Q_BLURRY = "照片模糊"
Q_NOT_FRONTAL = "请正对镜头"
Q_EYES_CLOSED = "请睁开眼睛"
Q_ID_MISMATCH = "照片与身份证照片不是同一人"
Q_ID_UNREADABLE = "身份证照片中未识别到人脸"

QUALITY_MESSAGES = {
    "ok": Q_OK,
    "no_face": Q_NO_FACE,
    "multiple_faces": Q_MULTIPLE_FACES,
    "incomplete": Q_INCOMPLETE,
    "too_small": Q_TOO_SMALL,
    "too_dark": Q_TOO_DARK,
    "too_bright": Q_TOO_BRIGHT,
    "blurry": Q_BLURRY,
    "not_frontal": Q_NOT_FRONTAL,
    "eyes_closed": Q_EYES_CLOSED,
    "id_mismatch": Q_ID_MISMATCH,
    "id_unreadable": Q_ID_UNREADABLE,
}

# Liveness prompts (one per action)
ACTION_PROMPTS = {
    "blink": "请眨眼",
    "open_mouth": "请张嘴",
    "turn_left": "请向左转头",
    "turn_right": "请向右转头",
    "nod": "请点头",
}

# Per-frame guidance
G_NO_FACE = "未检测到人脸"
G_MULTIPLE_FACES = "检测到多张人脸"
G_TOO_DARK = "光线太暗"
G_TOO_FAR = "离镜头太远"
G_FACE_CAMERA = "请正对镜头"
G_WAIT_PROMPT = "请保持正对镜头"
G_ACTION_DONE = "很好"
G_TURN_MORE = "再多转一点"
G_WRONG_ACTION = "动作不正确"
G_TOO_SLOW = "动作超时"
G_FINISHED = "动作完成，正在核验"
G_FAILED = "验证未通过"

# Verdict reasons
VERDICT_MESSAGES = {
    "no_frames": "没有收到视频画面",
    "multiple_faces": "检测到多张人脸",
    "face_lost": "人脸离开了画面",
    "action_timeout": "动作超时",
    "action_not_prompted": "未完成全部动作",
    "wrong_action": "动作不正确",
    "no_parallax": "疑似照片或屏幕翻拍（转头时面部没有立体变化）",
    "discontinuity": "画面不连续，疑似中途换人或换画面",
    "identity_mismatch": "与登记照片不是同一人",
    "identity_inconsistent": "验证过程中人脸发生变化",
    "identity_unavailable": "无法核验身份（未能提取人脸特征）",
}

# Frames of one request (core.faces.bursts): refused when the page broke the rules
B_TOO_MANY = "一次发送的画面过多，请刷新页面后重新核验"
B_OUT_OF_ORDER = "画面时间顺序错误，请刷新页面后重新核验"
B_TOO_CLOSE = "画面间隔过短，请刷新页面后重新核验"
