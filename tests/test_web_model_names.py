"""Which models a web user may name: a built-in, a Hugging Face hub id, or a model folder in the models folder (or a
run's merged model). Any other server folder is refused before anything reads it: a model folder is code and data
the server would load (its config.json is read by the model step, its weights by "Generate one" and training)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import settings
from engine.problems import ConfigError

from app.form_state import FormValues, form_to_config, with_preset
from app.steps.model_view import model_summary
from app.web_paths import ModelRefused, web_model_name


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    for name in ("runs", "uploads", "models"):
        monkeypatch.setenv(f"GRPO_STUDIO_{name.upper()}_DIR", str(tmp_path / name))
        (tmp_path / name).mkdir()
    monkeypatch.setenv("GRPO_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def model_folder(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    return path


@pytest.mark.parametrize("name", ["builtin:tiny", "Qwen/Qwen2.5-1.5B-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"])
def test_builtins_and_hub_ids_pass_unchanged(dirs, name):
    assert web_model_name(name) == name


def test_a_folder_in_the_models_folder_by_name_or_path_and_a_runs_merged_model(dirs):
    mine = model_folder(dirs / "models" / "my-model")
    merged = model_folder(dirs / "runs" / "run-1" / "merged")
    assert web_model_name("my-model") == str(mine.resolve())
    assert web_model_name(str(mine)) == str(mine.resolve())
    assert web_model_name(str(merged)) == str(merged.resolve())


@pytest.mark.parametrize("name", ["/etc", "/", "~", "../outside", "/proc/self/cwd", "./elsewhere", "elsewhere/model",
                                  "models/../elsewhere/model", "uploads", "/tmp"])
def test_server_folders_outside_the_models_folder_are_refused(dirs, name):
    model_folder(dirs / "elsewhere" / "model")
    model_folder(dirs / "outside")
    with pytest.raises(ModelRefused) as refused:
        web_model_name(name)
    [problem] = refused.value.problems
    assert problem.key == "model.name"
    assert "models folder" in problem.message and "\n" not in problem.message


def test_a_symlink_in_the_models_folder_to_a_foreign_folder_is_refused(dirs):
    foreign = model_folder(dirs / "elsewhere" / "model")
    (dirs / "models" / "sneaky").symlink_to(foreign)
    with pytest.raises(ModelRefused):
        web_model_name("sneaky")


@pytest.mark.parametrize("name", ["a" * 5000, "x\x00y", "bad id with spaces", "org/name/../../etc"])
def test_odd_names_are_one_sentence_not_a_crash(dirs, name):
    with pytest.raises(ConfigError) as error:
        form_to_config(with_preset(FormValues(model_name=name, data_path=""), "reasoning"))
    assert any(p.key == "model.name" for p in error.value.problems)


def test_the_form_and_the_model_step_refuse_a_server_folder(dirs):
    model_folder(dirs / "elsewhere" / "model")
    form = with_preset(FormValues(model_name=str(dirs / "elsewhere" / "model")), "reasoning")
    with pytest.raises(ConfigError) as error:
        form_to_config(form)
    assert [p.key for p in error.value.problems if p.key == "model.name"] == ["model.name"]
    summary = model_summary(str(dirs / "elsewhere" / "model"), None)
    assert summary.startswith("✗") and "models folder" in summary


def test_the_form_takes_a_model_from_the_models_folder_by_its_name(dirs):
    mine = model_folder(dirs / "models" / "my-model")
    form = with_preset(FormValues(model_name="my-model", data_path=str(settings.sample_data_path())), "reasoning")
    assert form_to_config(form).model.name == str(mine.resolve())


def test_an_unknown_builtin_is_the_engines_sentence(dirs):
    from engine.config import ModelConfig
    from engine.model_names import model_problems

    assert web_model_name("builtin:../../etc") == "builtin:../../etc"
    [problem] = model_problems(ModelConfig(name="builtin:../../etc"))
    assert problem.key == "model.name" and "no built-in model" in problem.message


def test_the_data_step_counts_with_no_tokenizer_from_a_server_folder(dirs, monkeypatch):
    """The data step counts long prompts with the model's tokenizer: only a model the page may name lends it one."""
    from engine import builtin_models
    from engine.model_names import resolve_model_path

    from app.steps import data_view

    tiny = Path(resolve_model_path(builtin_models.TINY))
    foreign = shutil.copytree(tiny, dirs / "elsewhere" / "model")
    mine = shutil.copytree(tiny, dirs / "models" / "tiny-copy")
    loaded = []
    real = data_view._tokenizer
    monkeypatch.setattr(data_view, "_tokenizer", lambda folder, prefix: loaded.append(folder) or real(folder, prefix))
    for name in (str(foreign), "tiny-copy"):
        form = with_preset(FormValues(model_name=name, data_path=str(settings.sample_data_path())), "reasoning")
        assert "64 rows" in data_view.preview_data(form).summary
    assert str(foreign) not in loaded and str(mine.resolve()) in loaded
