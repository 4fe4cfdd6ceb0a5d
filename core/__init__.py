"""xueshi core: the public plugin API.

Plugins import only from this module (``from core import hookimpl, TenantSpec, ...``).
"""

from core.faces import *  # noqa: F401,F403  (face provider contract)
from core.faces import __all__ as _faces_all
from core.hookspecs import hookimpl, hookspec

__all__ = ["hookimpl", "hookspec", *_faces_all]
