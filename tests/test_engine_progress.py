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


def test_long_work_counts_in_a_bar_and_in_the_file_the_app_reads(tmp_path, monkeypatch, capsys):
    """engine/progress_bar.py: the bar on stderr and, when the app names a file, the same count in it."""
    from engine.progress_bar import PROGRESS_FILE, Count, progress_bar, read_count

    path = tmp_path / "eval.progress.json"
    monkeypatch.setenv(PROGRESS_FILE, str(path))
    with progress_bar("base model answering", "questions") as progress:
        assert read_count(path) is None  # nothing counted yet
        progress(2, 5)
        assert read_count(path) == Count("base model answering", 2, 5, "questions")
        progress(4, 5)  # within WRITE_EVERY_S of the last write: the file waits
        progress(5, 5)
    assert read_count(path) == Count("base model answering", 5, 5, "questions")  # the last count always lands
    bar = capsys.readouterr().err
    assert "base model answering" in bar and "5/5" in bar and "questions" in bar
    with progress_bar("zipping run-adapter.zip", "bytes") as progress:
        progress(3 * 2**20, 3 * 2**20)
    assert "3.00M/3.00M" in capsys.readouterr().err
    assert read_count(path) == Count("zipping run-adapter.zip", 3 * 2**20, 3 * 2**20, "bytes")
    path.write_text("{not json")
    assert read_count(path) is None and read_count(tmp_path / "none.json") is None
    path.unlink()
    monkeypatch.delenv(PROGRESS_FILE)
    with progress_bar("quietly", "things") as progress:  # no file asked for: the bar only
        progress(1, 1)
    assert list(tmp_path.iterdir()) == []
