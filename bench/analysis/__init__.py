"""Reading results: selection and stopping rules, paired comparison, the golden check, the papers' claims and the leaderboard."""
