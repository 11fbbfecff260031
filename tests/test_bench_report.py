"""What the benchmark reports beside its timings (bench/grpo_bench.py): which NVML clock samples fall in a step's
generation, and how many kernels a run added to the compile cache."""

from bench.grpo_bench import clocks_in_generation, compiled_kernels


def sample(t, sm, power=300.0, slowdowns=()):
    return {"time": t, "sm_mhz": sm, "sm_max_mhz": 1980, "mem_mhz": 3201, "power_w": power,
            "temperature_c": 50, "slowdowns": list(slowdowns)}


def test_each_step_gets_the_samples_of_its_own_generation_window():
    # Step 1 ends at t=110 after 10 s, generating for its first 4 s (100-104); step 2 ends at 120, generating 110-116.
    events = [{"step": 1, "time": 110.0, "step_time": 10.0, "timing/generation_s": 4.0},
              {"step": 2, "time": 120.0, "step_time": 10.0, "timing/generation_s": 6.0},
              {"step": 3, "time": 130.0, "step_time": 10.0}]  # no generation timing: left out
    clocks = [sample(101, 1980), sample(103, 1980), sample(106, 900, slowdowns=["hardware thermal"]),  # training
              sample(111, 1500, 500, ["power cap"]), sample(113, 1700, 600), sample(115, 1900, 700),
              sample(118, 600, slowdowns=["software thermal"])]  # step 2's training side
    report = clocks_in_generation(clocks, events)
    assert report == [
        {"step": 1, "generation_s": 4.0, "sm_mhz": 1980, "power_w": 300.0, "slowdowns": []},
        {"step": 2, "generation_s": 6.0, "sm_mhz": 1700, "power_w": 600, "slowdowns": ["power cap"]},
    ]


def test_a_step_without_samples_in_its_window_is_left_out():
    events = [{"step": 1, "time": 110.0, "step_time": 10.0, "timing/generation_s": 0.5}]
    assert clocks_in_generation([sample(105, 1980)], events) == []


def test_the_compile_cache_counts_shared_objects_only(tmp_path):
    cache = tmp_path / "compile"
    assert compiled_kernels(cache) == 0  # no cache folder yet: a cold start
    (cache / "triton" / "abc").mkdir(parents=True)
    (cache / "triton" / "abc" / "kernel.so").write_bytes(b"")
    (cache / "triton" / "abc" / "kernel.json").write_text("{}")
    (cache / "inductor" / "xy").mkdir(parents=True)
    (cache / "inductor" / "xy" / "graph.so").write_bytes(b"")
    assert compiled_kernels(cache) == 2
