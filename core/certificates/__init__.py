"""Hours certificates (学时证明), their public verification, renewal (证书更新) and the
national registry report (see docs/certificates.md)."""
