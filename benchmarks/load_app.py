"""The web app of the load test: ``xueshi serve``'s app (``core.app:app_from_env``, served the same
way: uvicorn on uvloop + httptools, one app per process) with one hook added. The face checks of
the load test are passed with a recorded clip that shows blinks and a talking mouth, so its
challenges ask for those two actions only, as the face tests' challenges do (tests/test_proctoring.py).
"""

from __future__ import annotations

from litestar import Litestar

from core import hookimpl
from core.app import create_app
from core.settings import Settings


class BlinkAndMouthOnly:
    @hookimpl
    def proctor_challenge_actions(self, tenant):
        return ["blink", "open_mouth"]


def app() -> Litestar:
    return create_app(Settings.from_env(), [BlinkAndMouthOnly()])
