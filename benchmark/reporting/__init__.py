"""Everything shown to people: live progress, end-of-run tables, leaderboards."""
