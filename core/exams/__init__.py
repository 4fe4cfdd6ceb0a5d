"""Online exams (在线考核): question banks per position, random papers, autosaved answers,
server-side expiry and scoring. See docs/exams.md."""
