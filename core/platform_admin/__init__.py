"""The platform operator's pages (``/platform/…``): not tenant-scoped, operator accounts only."""

from core.platform_admin.controllers import router

__all__ = ["router"]
