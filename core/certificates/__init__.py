"""Hours certificates (学时证明), their public verification, renewal (重新生成证书; the
construction group's 证书更新) and the national registry report (see docs/certificates.md)."""
