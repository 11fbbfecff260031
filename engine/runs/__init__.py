"""The run folder and who may touch it: the one reader of a run's files (folder), status.json's typed model (status),
is this pid our trainer (trainer_process), one run at a time (lock), the queue of runs waiting for it (queue), delete,
whole-or-absent checkpoints, the progress line and ETA (progress), and the run's health in plain words (health)."""
