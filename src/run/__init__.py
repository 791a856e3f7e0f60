"""What the entry points (src/train.py, eval.py, summarize.py) share: composing and checking a run's config,
building it, its directory and status, its checkpoints, and how its errors reach the user."""
