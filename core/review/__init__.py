"""Review of study hours: the reviewers' queue, decisions (approve, two-person clearing with
reversing ledger entries, re-verification) and the learners' appeals."""
