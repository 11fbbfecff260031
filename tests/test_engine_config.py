"""Config layering (preset <- file <- --set), validation sentences, presets and the field reference."""

import pytest

from engine.config import build_config, field_help, field_reference, load_config
from engine.config_files import parse_override
from engine.presets import list_presets, load_preset_raw
from engine.problems import ConfigError

from tests.conftest import REPO, run_engine

QUICKSTART = REPO / "examples" / "quickstart.yaml"
PRESETS = sorted(path.stem for path in (REPO / "presets").glob("*.yaml"))  # adding a preset is adding its file


def test_presets_command_lists_each_preset_with_its_description():
    result = run_engine("presets")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert names == PRESETS and len(PRESETS) >= 4
    assert all(len(line.split(None, 1)[1]) > 30 for line in lines)


def test_presets_command_fits_a_long_name(tmp_path):
    """The descriptions start in one column however long a name is."""
    long_name = "a-preset-named-at-length-for-once"
    for name in ("rlvr-math", long_name):
        (tmp_path / f"{name}.yaml").write_text((REPO / "presets" / "rlvr-math.yaml").read_text())
    result = run_engine("presets", env={"GRPO_STUDIO_PRESETS_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == [long_name, "rlvr-math"]
    description = lines[0].split(None, 1)[1]
    assert {line.index(description) for line in lines} == {len(long_name) + 1}


def test_preset_defaults_follow_the_source_material():
    presets = {p.name: p for p in list_presets()}
    assert "FP8" in presets["fp8-fast"].description
    rlvr = build_config({"preset": "rlvr-math"})
    assert rlvr.train.num_generations == 8
    assert rlvr.train.learning_rate == 1e-4 and rlvr.prompt.start_with_thought is True
    correct = next(r for r in rlvr.rewards if r.kind == "answer_match")
    assert (correct.reward, correct.penalty) == (2.0, -1.0)
    assert rlvr.prompt.thought_tags == ("<thought>", "</thought>")
    fp8 = build_config({"preset": "fp8-fast"})  # extends rlvr-math
    assert fp8.model.load_in_fp8 and fp8.train.optim == "adamw_8bit"
    assert [r.name for r in fp8.rewards] == [r.name for r in rlvr.rewards]
    assert "extends" not in load_preset_raw("fp8-fast")


def test_file_overrides_preset_and_set_overrides_file():
    config = load_config(QUICKSTART, ["train.max_steps=7", "model.lora_rank=8"])
    assert config.preset == "rlvr-math"
    assert config.train.max_steps == 7 and config.model.lora_rank == 8
    assert config.train.num_generations == 4  # from the file, over the preset's 8
    assert config.train.max_grad_norm == 0.1  # untouched default


def test_set_value_is_yaml_and_a_list_replaces_the_whole_list():
    config = load_config(QUICKSTART, ["rewards=[{name: f, kind: regex_match, pattern: x}]"])
    assert [r.name for r in config.rewards] == ["f"]
    assert parse_override("data.answer_pattern='####\\s*(.+)'") == {"data": {"answer_pattern": "####\\s*(.+)"}}


def test_invalid_values_become_one_sentence_per_key():
    with pytest.raises(ConfigError) as caught:
        build_config({"preset": "reasoning", "train": {"num_generations": 1, "learning_rate": -1},
                      "model": {"lora_rnak": 8}})
    keys = {p.key for p in caught.value.problems}
    assert keys == {"train.num_generations", "train.learning_rate", "model.lora_rnak"}
    text = str(caught.value)
    assert "greater than or equal to 2" in text and "got 1" in text
    assert "unknown key" in text


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigError, match=f"choose one of: {', '.join(PRESETS)}"):
        build_config({"preset": "nope"})


def test_reward_kind_needs_its_fields_and_names_are_unique():
    with pytest.raises(ConfigError, match="needs 'pattern'"):
        build_config({"rewards": [{"name": "a", "kind": "regex_match"}]})
    with pytest.raises(ConfigError, match="used twice"):
        build_config({"rewards": [{"name": "a", "kind": "length", "target": 5}] * 2})


def test_resolved_config_round_trips(tmp_path):
    config = load_config(QUICKSTART, ["train.max_steps=5"])
    config.save(tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again == config


def test_every_field_has_help_for_tooltips_and_the_reference():
    rows = field_reference()
    assert len(rows) > 40
    assert all(help_text for _, _, _, help_text in rows)
    assert "10x" in field_help("train.learning_rate")
    result = run_engine("reference")
    assert result.returncode == 0 and "`train.num_generations`" in result.stdout


def test_readme_config_reference_is_generated_from_the_field_help():
    readme = (REPO / "README.md").read_text()
    table = readme.split("<!-- reference:start -->\n")[1].split("<!-- reference:end -->")[0]
    assert table == run_engine("reference").stdout, "run: python -m engine reference, and paste it into README.md"
