"""Dashboards (数据看板): aggregates of a tenant's study, review, exams and certificates as charts
beside data tables, for tenant admins, reviewers and the platform operator; tenant plugins add
panels through the ``dashboard_panels`` hook. See docs/dashboards.md."""
