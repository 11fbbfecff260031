"""The progress line that `train` prints and `watch` redraws."""

from engine.runs.progress import clock, eta_seconds, progress_line
from engine.runs.status import RunStatus


def test_eta_uses_the_pace_after_the_warm_up_step():
    # Step 1 took 100 s (compilation, CUDA graphs); steps 2-5 took 2 s each: 5 steps left are ~10 s, not ~100 s.
    status = RunStatus(step=5, max_steps=10, session_started=0.0, session_start_step=0, pace_from_time=100.0,
                       pace_from_step=1)
    assert eta_seconds(status, {"time": 108.0}) == 10.0
    # Before a second step is logged, the session start is all there is.
    first = RunStatus(step=1, max_steps=10, session_started=0.0, session_start_step=0, pace_from_time=100.0,
                      pace_from_step=1)
    assert eta_seconds(first, {"time": 100.0}) == 900.0
    assert eta_seconds(RunStatus(step=0, max_steps=10), None) is None


def test_progress_line_shows_step_rewards_vram_and_state():
    status = RunStatus(step=3, max_steps=4, started=0.0, session_started=0.0, state="running")
    event = {"time": 30.0, "reward": 1.5, "rewards/format/mean": 0.5, "rewards/correct/mean": 1.0,
             "vram_used_mib": 10240, "vram_total_mib": 81920}
    line = progress_line(status, event, now=30.0)
    assert line.startswith("step 3/4 [###############-----]")
    assert "00:30 elapsed, ETA 00:10" in line
    assert "reward 1.500 (format 0.50, correct 1.00)" in line
    assert "VRAM 10.0/80 GiB" in line and line.endswith("running")
    assert "VRAM n/a" in progress_line(status, {"time": 1.0}, now=1.0)
    assert clock(3725) == "1:02:05"
