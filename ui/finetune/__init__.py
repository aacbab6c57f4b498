"""The Fine-tune page in parts: the visitor's run (``runs``), the data, the settings, the
live panel, the leaderboard, the results and the download; the page calls them in order."""
