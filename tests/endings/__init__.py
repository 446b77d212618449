"""How task-run ends: signals, summaries, exit codes and the progress line."""
