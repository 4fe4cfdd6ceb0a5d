"""The kernel: one ``build_platform(settings, plugins)`` for every entry point.

The web app, the CLI, the demo, the job worker and the test kit all build the same
:class:`Platform` here and differ only in what they run on it. ``start()`` opens what a process
holds (the PostgreSQL pool, the tenants' ids, the job queue); ``stop()`` closes it. Serving
processes never migrate: ``deploy()`` (``xueshi migrate`` + ``xueshi tenants sync``, or the demo)
is the one place that changes the schema and onboards tenants.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar.stores.base import Store
from litestar.stores.file import FileStore
from redis.exceptions import RedisError

from core import db
from core.accounts.sessions import Sessions
from core.accounts.tables import WATCHERS
from core.files.storage import Storage, storage_from_settings
from core.hookcalls import Hooks, collect
from core.i18n import plugin_locale_dir
from core.jobs import Jobs
from core.jobs.builtin import collect_specs
from core.limits import Counter
from core.locks import Locks
from core.notify.services import sms_gateway_missing, sms_setup_problems
from core.plugins import PluginHost, collected, make_plugin_host
from core.settings import Settings
from core.study import live
from core.templating import Templates
from core.tenancy import Tenant, TenantDirectory
from core.themes import theme_folders
from core.tenants.services import load_tenants, sync_tenants
from core.tenants.tables import TenantRow

if TYPE_CHECKING:
    from core.faces import FaceProvider

log = logging.getLogger("xueshi.kernel")
# The core's Piccolo apps besides ``core.piccolo_app`` (each flow with its own tables and migrations)
CORE_APPS = (
    "core.jobs.piccolo_app",  # job_run (core.jobs)
    "core.review.piccolo_app",  # review_decision, review_appeal (core.review)
    "core.certificates.piccolo_app",  # certificate, registry_batch, registry_row (core.certificates)
    "core.exams.piccolo_app",  # exam banks, questions, attempts, answers (core.exams)
    "core.proctoring.piccolo_app",  # proctor_session, face_encoding (core.proctoring)
)


class NotDeployed(RuntimeError):
    """The database lacks a tenant (or the schema): run the deploy step first."""


@dataclass
class Platform:
    """Everything one process owns for serving, working or administering; built once."""

    settings: Settings
    plugins: PluginHost
    tenants: TenantDirectory
    templates: Templates
    store: Store
    sessions: Sessions
    storage: Storage
    counters: dict[str, Counter] = field(default_factory=dict)
    locks: Locks | None = None
    jobs: Jobs | None = None  # attached by build_platform: SAQ on Redis, or in-process
    live: Any = None  # core.study.live.Live: heartbeats in Redis (Redis + PostgreSQL only)
    themes: dict[str, Any] = field(default_factory=dict)  # theme name → folder (core.themes)
    started: bool = False
    jobs_running: bool = False
    # list[FaceProvider]: spelt Any so the fields' types resolve at run time (handlers take
    # ``platform: Platform`` and Litestar checks injected values against their type)
    _face_providers: list[Any] | None = None

    def hooks(self, tenant: Tenant) -> Hooks:
        return self.plugins.hooks_for(tenant.slug)

    async def face_providers(self) -> list[FaceProvider]:
        """The face providers of every plugin, built once per platform (their models are loaded
        lazily by the providers themselves, once per process)."""
        if self._face_providers is None:
            self._face_providers = await collect(self.plugins.hooks.face_providers)
        return self._face_providers

    async def start(self, *, jobs: bool = True) -> None:
        """Open the pool, read the tenants' ids and (unless ``jobs=False``: a one-off command)
        start this process's jobs and cron schedule. Never migrates."""
        if self.started:
            return
        await self.check_sms_providers()  # before anything is opened: a refusal leaves nothing behind
        await db.start_pool(self.settings.db_pool_size)
        try:
            await load_tenant_ids(list(self.tenants))
        except Exception:
            await db.stop_pool()
            raise
        if jobs and self.jobs is not None:
            await self.jobs.start(self)
            self.jobs_running = True
        if self.live is not None:
            self.live.start()
        self.started = True
        self.sessions.watch()  # this process's changes of account rows reach every process
        await self.warn_without_sms_gateway()
        settle_heap()

    async def check_sms_providers(self) -> None:
        """A tenant's texts must fit its SMS provider's templates: refuse to start otherwise."""
        problems = [f"tenant {t.slug}: {p}" for t in self.tenants for p in await sms_setup_problems(self.hooks(t), t)]
        if problems:
            raise RuntimeError("SMS provider configuration:\n" + "\n".join(problems))

    async def warn_without_sms_gateway(self) -> None:
        for tenant in await self.tenants_without_sms_gateway():
            log.warning("tenant %s has no SMS gateway: text messages are recorded, not sent", tenant.slug)

    async def tenants_without_sms_gateway(self) -> list[Tenant]:
        return [t for t in self.tenants if await sms_gateway_missing(self.hooks(t), t)]

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        WATCHERS.discard(self.sessions)
        if self.live is not None:
            await self.live.stop()
        if self.jobs_running:
            self.jobs_running = False
            try:
                await self.jobs.stop()
            except RedisError as exc:  # Redis unreachable: its queue is gone; still close the pool
                log.warning("jobs stopped without reaching Redis: %s", exc)
        await db.stop_pool()
        shutdown = getattr(self.store, "_shutdown", None)  # RedisStore: closes its client it made
        if shutdown is not None:
            await shutdown()


def make_store(settings: Settings) -> Store:
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=settings.redis_url, namespace="xueshi")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return FileStore(settings.var_dir / "store", create_directories=True)


def make_counters(settings: Settings, store: Store) -> dict[str, Counter]:
    return {
        "signin_failures": Counter(store, "signin-fail", settings.lockout_failures, settings.lockout_seconds),
        "signin_client": Counter(store, "signin-client", settings.signin_rate_per_minute, 60),
        "sms_mobile": Counter(store, "sms-mobile", 5, 3600),
        "sms_client": Counter(store, "sms-client", 20, 3600),
        "lookup_client": Counter(store, "lookup-client", settings.lookup_rate_per_hour, 3600),
        # Public certificate verification: look-ups, and unknown codes (guessing), per address.
        "verify_client": Counter(store, "verify-client", 120, 3600),
        "verify_unknown": Counter(store, "verify-unknown", 10, 3600),
        # Face checks issued per learner and China day, less the passed ones (the limit is the
        # tenant's face.max_attempts; keys carry the day, the window only lets them expire).
        "face_attempts": Counter(store, "face-attempt", 0, 2 * 86400),
    }


def build_platform(settings: Settings | None = None, plugins: Iterable[object] = ()) -> Platform:
    """Plugins, tenants (rules validated: a bad rules.toml stops here), templates, store,
    sessions, storage, counters and jobs. Cheap: no database access, no face model loaded."""
    settings = settings or Settings.from_env()
    # The SQLite driver logs SQL parameters (ID numbers, mobiles) at DEBUG: never let it.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    host = make_plugin_host(plugins, load_entrypoints=settings.load_entrypoints)
    db.configure(settings.database_url, [*CORE_APPS, *collected(host.pm, "db_apps")])
    tenants = load_tenants(host)
    themes = theme_folders(collected(host.pm, "theme_dirs"), host.specs.values())
    store = make_store(settings)
    platform = Platform(
        settings=settings,
        plugins=host,
        tenants=TenantDirectory(tenants),
        templates=_templates(host, tenants, themes, auto_reload=settings.debug),
        themes=themes,
        store=store,
        sessions=Sessions(store, idle=settings.session_idle_seconds, absolute=settings.session_absolute_seconds),
        storage=storage_from_settings(settings),
        counters=make_counters(settings, store),
        locks=Locks(store),
    )
    platform.jobs = Jobs.for_platform(platform, collect_specs(platform))
    platform.live = make_live(settings, store)
    return platform


def make_live(settings: Settings, store: Store) -> Any:
    """Live study (core.study.live) when Redis and PostgreSQL are configured, else None."""
    if not live.enabled(settings):
        return None
    return live.Live(settings.redis_url, settings.database_url, idle_seconds=settings.session_idle_seconds,
                     absolute_seconds=settings.session_absolute_seconds, store_namespace=store.namespace,
                     background=not settings.study_flush_inline)


def _templates(host: PluginHost, tenants: list[Tenant], themes: dict[str, Any],
               auto_reload: bool = False) -> Templates:
    owned = host.owned("template_dirs")
    tenant_dirs = {t.slug: [d for owner, dirs in owned if owner == t.slug for d in dirs] for t in tenants}
    shared_dirs = [d for owner, dirs in owned if owner is None for d in dirs]
    return Templates(tenant_dirs, shared_dirs, {t.slug: t.spec.theme for t in tenants},
                     locale_dirs=_locale_dirs(host, tenants), auto_reload=auto_reload,
                     zones={t.slug: t.rules.timezone for t in tenants}, theme_folders=themes)


def _locale_dirs(host: PluginHost, tenants: list[Tenant]) -> dict[str | None, list[Any]]:
    """Per tenant (None: pages without one), the plugins' ``locale`` folders its pages read after
    the core's: the global plugins' in registration order, then its own plugin's (which wins)."""
    shared = [d for _, plugin in host.pm.list_name_plugin() if host.owner_tenant(plugin) is None
              and (d := plugin_locale_dir(plugin)) is not None]
    own = {t.slug: plugin_locale_dir(host.plugin_of(t.slug)) for t in tenants}
    return {None: shared, **{slug: [*shared, *([d] if d else [])] for slug, d in own.items()}}


async def load_tenant_ids(tenants: list[Tenant]) -> None:
    try:
        rows = {r["slug"]: r["id"] for r in await TenantRow.select(TenantRow.slug, TenantRow.id)}
    except Exception as exc:  # no schema yet
        raise NotDeployed(f"the database is not migrated ({exc}); run `xueshi migrate` and "
                          f"`xueshi tenants sync` first") from exc
    missing = [t.slug for t in tenants if t.slug not in rows]
    if missing:
        raise NotDeployed(f"tenants not onboarded: {', '.join(missing)}; run `xueshi tenants sync` first")
    for tenant in tenants:
        tenant.id = rows[tenant.slug]


async def deploy(platform: Platform, *, verbose: bool = False) -> list[str]:
    """The deploy step: migrate every app forwards, then onboard every tenant (idempotent)."""
    await db.migrate(verbose=verbose)
    return await sync_tenants(platform.plugins, list(platform.tenants))


def settle_heap() -> None:
    """Once per process, at the first start: the objects alive then (modules, the app, templates,
    plugins) live as long as the process, so the cyclic garbage collector stops walking them
    (``gc.freeze``, after a collection so no garbage is kept). Walked, they made each full
    collection, every few requests of a large page, a pause of the event loop longer than the
    page's own queries (``benchmarks/bench_dashboards.py`` prints the full collections of its run)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
