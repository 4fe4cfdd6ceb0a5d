"""Settings read from the environment into a dataclass; passed in, never cached at import."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:  # a typo in deployment config must stop startup, loudly
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _stored_secret(var_dir: Path) -> str:
    """A random key kept in ``var/secret_key`` so sessions, CSRF tokens and SMS code hashes
    survive a restart; production sets XUESHI_SECRET_KEY instead."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/xueshi.sqlite3"
    redis_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    var_dir: Path = Path("var")
    debug: bool = False
    # Sessions: idle timeout renews on every request; the absolute one never does.
    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 60 * 60
    # Sign-in protection.
    lockout_failures: int = 5
    lockout_seconds: int = 15 * 60
    signin_rate_per_minute: int = 20
    # Anonymous look-ups that touch personal data (certification form, the learner's identity
    # step): per client address and hour.
    lookup_rate_per_hour: int = 30
    # Entry points are how out-of-tree tenants arrive; tests switch them off for isolation.
    load_entrypoints: bool = True
    cookie_secure: bool = False
    # PostgreSQL connections per process (the pool opened at start); 0 opens none.
    db_pool_size: int = 10
    # Jobs that report progress (imports) and stay silent this long are presumed dead and resumed.
    job_heartbeat_seconds: int = 60
    # The SAQ queue's name on Redis: deployments sharing one Redis use different names.
    job_queue: str = "xueshi"
    # Live study (Redis + PostgreSQL): True writes each fast heartbeat before answering it (tests
    # that read the database right after a beat); False leaves it to the flusher (production).
    study_flush_inline: bool = False
    # Files: empty keeps them under var_dir/files; ``s3://bucket/prefix`` puts them in an
    # S3-compatible bucket (AWS, MinIO, Alibaba OSS, Tencent COS) reached at storage_endpoint.
    storage_url: str = ""
    storage_endpoint: str = ""
    storage_region: str = "us-east-1"
    storage_access_key: str = field(default="", repr=False)
    storage_secret_key: str = field(default="", repr=False)
    storage_virtual_hosted: bool = False  # bucket.endpoint/key (OSS, COS) instead of endpoint/bucket/key
    # How long a signed URL (lesson video, certificate PDF) stays valid: the browser fetches a
    # video's later ranges from the URL it was redirected to, so it must outlast a lesson.
    storage_signed_seconds: int = 3600
    # Lesson videos (core.courses.video_jobs): the longest input accepted, and how long one ffmpeg
    # run may take before it is killed (the job's own timeout is three hours).
    video_max_seconds: int = 4 * 3600
    video_transcode_seconds: int = 3600

    @property
    def storage_dir(self) -> Path:
        return self.var_dir / "files"

    @property
    def session_dir(self) -> Path:
        return self.var_dir / "sessions"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("XUESHI_VAR_DIR", "var"))
        values = dict(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'xueshi.sqlite3'}",
            redis_url=env.get("REDIS_URL") or None,
            var_dir=var_dir,
            debug=env.get("XUESHI_DEBUG", "") in {"1", "true", "yes"},
            session_idle_seconds=_int(env, "XUESHI_SESSION_IDLE_SECONDS", 30 * 60),
            session_absolute_seconds=_int(env, "XUESHI_SESSION_ABSOLUTE_SECONDS", 12 * 3600),
            lockout_failures=_int(env, "XUESHI_LOCKOUT_FAILURES", 5),
            lockout_seconds=_int(env, "XUESHI_LOCKOUT_SECONDS", 15 * 60),
            lookup_rate_per_hour=_int(env, "XUESHI_LOOKUP_RATE_PER_HOUR", 30),
            cookie_secure=env.get("XUESHI_COOKIE_SECURE", "") in {"1", "true", "yes"},
            db_pool_size=_int(env, "XUESHI_DB_POOL_SIZE", 10),
            job_heartbeat_seconds=_int(env, "XUESHI_JOB_HEARTBEAT_SECONDS", 60),
            job_queue=env.get("XUESHI_JOB_QUEUE") or "xueshi",
            storage_url=env.get("XUESHI_STORAGE_URL", ""),
            storage_endpoint=env.get("XUESHI_STORAGE_ENDPOINT", ""),
            storage_region=env.get("XUESHI_STORAGE_REGION") or "us-east-1",
            storage_access_key=env.get("XUESHI_STORAGE_ACCESS_KEY", ""),
            storage_secret_key=env.get("XUESHI_STORAGE_SECRET_KEY", ""),
            storage_virtual_hosted=env.get("XUESHI_STORAGE_VIRTUAL_HOSTED", "") in {"1", "true", "yes"},
            storage_signed_seconds=_int(env, "XUESHI_STORAGE_SIGNED_SECONDS", 3600),
            video_max_seconds=_int(env, "XUESHI_VIDEO_MAX_SECONDS", 4 * 3600),
            video_transcode_seconds=_int(env, "XUESHI_VIDEO_TRANSCODE_SECONDS", 3600),
        )
        values["secret_key"] = env.get("XUESHI_SECRET_KEY") or _stored_secret(var_dir)
        values.update(overrides)
        return cls(**values)
