"""The Gradio Blocks: six steps as tabs, built by the step modules, and the events that connect them.

State lives in the widgets (the run's settings) and in run folders (everything about runs); the only session
state is which run the Train view is attached to, so a page reload or an app restart loses nothing.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr

from engine.config import ConfigError, load_config

from app import chat, machine, runner, sample_completion, strings
from app.form_state import (FormValues, add_row, config_to_form, form_to_config, move_row, problem_sentence,
                            prompt_config, remove_row, starter_for_kind, web_kind_problem, with_preset)
from app.form_widgets import MAX_REWARDS, FormWidgets
from app.reward_preview import preview
from app.safe import guarded
from app.web_paths import web_data_path
from app.steps import data_step, model_step, preset_step, results_step, rewards_step, train_step

CSS_PATH = Path(__file__).with_name("style.css")


def initial_form(cpu_demo: bool) -> FormValues:
    """What the form shows on a fresh page: the default preset and model, and the bundled sample data."""
    form = with_preset(FormValues(model_name=model_step.default_model()), preset_step.DEFAULT_PRESET, cpu_demo)
    form.data_path = data_step.sample_path()
    try:
        form.prompt_column, form.answer_column = data_step.guess_columns(
            list(data_step.read_table(form.data_path).column_names))
    except ConfigError:
        pass
    return form


def _config_or_none(form: FormValues):
    try:
        return form_to_config(form)
    except ConfigError:
        return None


def build_ui() -> gr.Blocks:
    cpu_demo = machine.cpu_demo_mode()
    initial = initial_form(cpu_demo)
    initial_config = _config_or_none(initial)
    with gr.Blocks(title=strings.TITLE, analytics_enabled=False) as demo:
        attached_run = gr.State(None)
        gr.Markdown(f"# {strings.TITLE}\n{strings.TAGLINE}", elem_id="app-title")
        if cpu_demo:
            reason = machine.cpu_demo_reason()
            gr.Markdown(strings.CPU_DEMO_BANNER + (f"  \n{strings.CPU_DEMO_WHY} {reason}" if reason else ""),
                        elem_id="cpu-demo-banner", elem_classes=["gs-banner"])
        with gr.Tabs(elem_id="steps") as tabs:
            with gr.Tab(strings.TAB_MODEL, id="model", elem_id="tab-model") as model_tab:
                model = model_step.build(initial.model_name, initial_config)
            with gr.Tab(strings.TAB_PRESET, id="preset", elem_id="tab-preset"):
                preset = preset_step.build(initial)
            with gr.Tab(strings.TAB_DATA, id="data", elem_id="tab-data"):
                data = data_step.build(initial)
            with gr.Tab(strings.TAB_REWARDS, id="rewards", elem_id="tab-rewards"):
                rewards = rewards_step.build(initial)
            with gr.Tab(strings.TAB_TRAIN, id="train", elem_id="tab-train") as train_tab:
                train = train_step.build()
            with gr.Tab(strings.TAB_RESULTS, id="results", elem_id="tab-results") as results_tab:
                results = results_step.build()
        form = FormWidgets(
            model_name=model.name, preset=preset.preset, settings=preset.settings | data.settings | rewards.settings,
            data_path=data.path, prompt_column=data.prompt_column, answer_column=data.answer_column,
            answer_pattern=data.answer_pattern, system_prompt=rewards.system_prompt,
            thought_open=rewards.thought_open, thought_close=rewards.thought_close,
            answer_open=rewards.answer_open, answer_close=rewards.answer_close,
            reward_count=gr.State(len(initial.rewards)), slots=rewards.slots, preset_choices=preset.choices)

        for button, target in ((model.next, "preset"), (preset.next, "data"), (data.next, "rewards"),
                               (rewards.next, "train")):
            button.click(lambda target=target: gr.Tabs(selected=target), outputs=tabs, show_progress="hidden")
        _wire_model(model, model_tab, form)
        _wire_preset(preset, model, form, cpu_demo)
        _wire_data(data, form)
        _wire_rewards(rewards, form)
        _wire_train(train, train_tab, form, attached_run)
        _wire_results(results, results_tab, data, form, attached_run, tabs)
        demo.load(guarded(_attach_on_load), outputs=attached_run, show_progress="hidden")
    return demo


def _attach_on_load() -> str | None:
    """After a page load or an app restart: show the run in progress, else the newest one."""
    active = runner.active_run()
    if active is not None:
        return active.id
    ids = results_step.runs_overview()[1]
    return ids[0] if ids else None


# ---------------------------------------------------------------------------------------------------------------
# 1 · Model

def _model_view(model: model_step.ModelStep, form: FormWidgets, values: dict) -> dict:
    """The models table and the chosen model's summary, with VRAM estimated for the current settings."""
    current = form.read(values)
    config = _config_or_none(current)
    return {model.table: model_step.models_table(config),
            model.summary: model_step.model_summary(current.model_name, config)}


def _wire_model(model: model_step.ModelStep, model_tab: gr.Tab, form: FormWidgets) -> None:
    model_step.wire(model)

    @guarded
    def summarise(values: dict) -> str:
        current = form.read(values)
        return model_step.model_summary(current.model_name, _config_or_none(current))

    model.name.change(summarise, inputs=form.value_components(), outputs=model.summary, show_progress="hidden",
                      trigger_mode="always_last")
    # Back on this step after changing settings: the estimates follow them.
    model_tab.select(guarded(partial(_model_view, model, form)), inputs=form.value_components(),
                     outputs=[model.table, model.summary], show_progress="hidden")


# ---------------------------------------------------------------------------------------------------------------
# 2 · Preset

def _wire_preset(preset: preset_step.PresetStep, model: model_step.ModelStep, form: FormWidgets,
                 cpu_demo: bool) -> None:
    @guarded
    def choose(values: dict) -> dict:
        chosen = with_preset(form.read(values), values[form.preset], cpu_demo)
        return form.write(chosen, include_data=False)

    preset.preset.input(choose, inputs=form.value_components(), outputs=form.write_outputs(include_data=False),
                        show_progress="hidden").then(
        guarded(partial(_model_view, model, form)), inputs=form.value_components(),
        outputs=[model.table, model.summary], show_progress="hidden")

    @guarded
    def settings_errors(values: dict) -> str:
        try:
            form_to_config(form.read(values))
        except ConfigError as error:
            mine = [p for p in error.problems if p.key.startswith(("train.", "model.")) and p.key != "model.name"]
            return "  \n".join(f"✗ {problem_sentence(p)}" for p in mine)
        return ""

    setting_widgets = [c for key, c in form.settings.items() if not key.startswith("data.")]
    gr.on([c.change for c in setting_widgets], settings_errors, inputs=form.value_components(),
          outputs=preset.errors, show_progress="hidden", trigger_mode="always_last")


# ---------------------------------------------------------------------------------------------------------------
# 3 · Data

def _data_updates(data: data_step.DataStep, form: FormWidgets, values: dict) -> dict:
    """The preview for the current settings; for a file other than the one shown, fresh column guesses."""
    current = form.read(values)
    guess = current.data_path != values[data.shown_path]
    shown = data_step.preview_data(current)
    updates = {data.preview: data_step.preview_update(shown.frame), data.summary: shown.summary,
               data.error: f"✗ {shown.error}" if shown.error else "",
               data.pattern_error: f"✗ {shown.pattern_error}" if shown.pattern_error else ""}
    columns = shown.columns
    if columns:
        updates[data.shown_path] = current.data_path
        prompt, answer = current.prompt_column, current.answer_column
        if guess or prompt not in columns or (answer is not None and answer not in columns):
            prompt, answer = data_step.guess_columns(columns)
        updates[data.prompt_column] = gr.update(choices=columns, value=prompt)
        updates[data.answer_column] = gr.update(choices=[strings.DATA_NO_ANSWER] + columns,
                                                value=answer or strings.DATA_NO_ANSWER)
        if guess and (prompt, answer) != (current.prompt_column, current.answer_column):
            # The preview above used the old columns; show it for the new ones.
            current.prompt_column, current.answer_column = prompt, answer
            shown = data_step.preview_data(current)
            updates |= {data.preview: data_step.preview_update(shown.frame), data.summary: shown.summary,
                        data.error: f"✗ {shown.error}" if shown.error else ""}
    return updates


def data_outputs(data: data_step.DataStep) -> list:
    return [data.preview, data.summary, data.error, data.pattern_error, data.prompt_column, data.answer_column,
            data.shown_path]


def _wire_data(data: data_step.DataStep, form: FormWidgets) -> None:
    outputs = data_outputs(data)
    refresh = guarded(lambda values: _data_updates(data, form, values))

    @guarded
    def uploaded(temporary: str | None) -> dict:
        stored, message = data_step.stored_upload(temporary)
        if stored is None:
            return {data.message: message, data.upload: None}
        return {data.path: stored, data.message: message}

    def use_sample(path: str) -> dict:
        return {data.path: path, data.upload: None, data.message: ""}

    inputs = form.value_components() | {data.shown_path}
    data.upload.upload(uploaded, inputs=data.upload, outputs=[data.path, data.message, data.upload],
                       show_progress="minimal").then(refresh, inputs=inputs, outputs=outputs)
    for button, path in ((data.use_sample, data_step.sample_path()), (data.use_code_sample,
                                                                       data_step.code_sample_path())):
        button.click(guarded(partial(use_sample, path)), outputs=[data.path, data.upload, data.message]).then(
            refresh, inputs=inputs, outputs=outputs)
    gr.on([data.path.submit, data.path.blur], refresh, inputs=inputs, outputs=outputs)
    gr.on([data.prompt_column.change, data.answer_column.change, data.answer_pattern.change]
          + [c.change for c in data.settings.values()], refresh, inputs=inputs, outputs=outputs,
          show_progress="hidden", trigger_mode="always_last")


# ---------------------------------------------------------------------------------------------------------------
# 4 · Rewards

def _wire_rewards(rewards: rewards_step.RewardsStep, form: FormWidgets) -> None:
    rows_inputs = {form.reward_count} | {c for slot in form.slots for c in slot.value_components()}
    rows_outputs = form.rows_outputs() + [rewards.list_message]

    @guarded
    def add(values: dict) -> dict:
        rows = form.read_rows(values)
        if len(rows) >= MAX_REWARDS:
            return {rewards.list_message: strings.REWARD_LIMIT.format(limit=MAX_REWARDS)}
        return form.write_rows(add_row(rows, MAX_REWARDS)) | {rewards.list_message: ""}

    rewards.add.click(add, inputs=rows_inputs, outputs=rows_outputs, show_progress="hidden")

    def edit(change, index: int, values: dict) -> dict:
        rows = change(form.read_rows(values), index)
        message = strings.REWARD_NEEDS_ONE if not rows else ""
        return form.write_rows(rows) | {rewards.list_message: message}

    for index, slot in enumerate(form.slots):
        for button, change in ((slot.up, lambda rows, i: move_row(rows, i, -1)),
                               (slot.down, lambda rows, i: move_row(rows, i, +1)),
                               (slot.remove, remove_row)):
            button.click(guarded(partial(edit, change, index)), inputs=rows_inputs, outputs=rows_outputs,
                         show_progress="hidden")

        def kind_chosen(values: dict, slot=slot) -> dict:
            row = starter_for_kind(slot.read(values))
            return slot.write(row)

        slot.kind.input(guarded(kind_chosen), inputs=set(slot.value_components()), outputs=slot.write_outputs(),
                        show_progress="hidden")

    prompt_widgets = [form.system_prompt, form.thought_open, form.thought_close, form.answer_open, form.answer_close]
    try_inputs = rows_inputs | set(prompt_widgets) | {rewards.completion, rewards.gold, form.data_path,
                                                      rewards.generated_row}
    try_outputs = [s.score for s in form.slots] + [s.error for s in form.slots] + [rewards.total, rewards.breakdown]

    @guarded
    def try_it(values: dict) -> list:
        rows = form.read_rows(values)
        prompt = prompt_config(FormValues(system_prompt=values[form.system_prompt],
                                          thought_tags=(values[form.thought_open], values[form.thought_close]),
                                          answer_tags=(values[form.answer_open], values[form.answer_close])))
        columns = rewards_step.try_row_columns(values[form.data_path], values[rewards.generated_row]) if rows else {}
        result = preview(rows, prompt, values[rewards.completion], values[rewards.gold], columns) if rows else None
        badges, errors, total, table = rewards_step.preview_outputs(rows, result)
        return badges + errors + [total, table]

    # No triggers: on page load and on every change of any input (a row field, the prompt tags, the text).
    gr.on(None, try_it, inputs=try_inputs, outputs=try_outputs, show_progress="hidden", trigger_mode="always_last")

    @guarded
    def generate_one(values: dict) -> dict:
        """A sampled completion from the form's model into the try-it box (which then scores it), or one sentence
        saying what to fix."""
        try:
            config = form_to_config(form.read(values))
            sample = sample_completion.generate_sample(config)
        except ConfigError as error:
            return {rewards.generate_message: f"✗ {problem_sentence(error.problems[0])}"}
        except sample_completion.ModelLoadError as error:
            return {rewards.generate_message: f"✗ {error}"}
        question = " ".join(sample.question.split())
        question = question if len(question) <= 160 else question[:157] + "…"
        return {rewards.completion: sample.completion, rewards.gold: sample.gold or "",
                rewards.generated_row: (values[form.data_path], sample.columns),
                rewards.generate_message: strings.TRY_GENERATED.format(model=config.model.name, question=question)}

    rewards.generate.click(generate_one, inputs=form.value_components(),
                           outputs=[rewards.completion, rewards.gold, rewards.generated_row, rewards.generate_message])


# ---------------------------------------------------------------------------------------------------------------
# 5 · Train

def _wire_train(train: train_step.TrainStep, train_tab: gr.Tab, form: FormWidgets, attached_run: gr.State) -> None:
    inputs = form.value_components()

    summary_outputs = [train.summary, train.facts]

    @guarded
    def check(values: dict) -> list:
        summary = train_step.check_form(form.read(values))[1]
        return [summary.verdict, summary.facts]

    train_tab.select(lambda: strings.TRAIN_CHECKING, outputs=train.summary, show_progress="hidden").then(
        check, inputs=inputs, outputs=summary_outputs, show_progress="minimal")
    train.check.click(check, inputs=inputs, outputs=summary_outputs, show_progress="minimal")

    @guarded
    def launch(values: dict) -> dict:
        config, summary = train_step.check_form(form.read(values))
        shown = {train.summary: summary.verdict, train.facts: summary.facts}
        if config is None:
            gr.Warning(strings.TRAIN_NOT_READY.replace("*", ""))
            return shown | {train.message: ""}
        try:
            run = runner.launch(config)
        except runner.RunnerError as error:
            gr.Warning(str(error))
            return shown | {train.message: f"✗ {error}"}
        return shown | {train.message: strings.TRAIN_LAUNCHED.format(id=run.id), attached_run: run.id}

    train.launch.click(launch, inputs=inputs, outputs=summary_outputs + [train.message, attached_run],
                       concurrency_limit=1)

    @guarded
    def stop(run_id: str | None) -> str:
        run = train_step.run_folder(run_id)
        if run is None:
            return ""
        try:
            runner.stop(run)
        except runner.RunnerError as error:
            return f"✗ {error}"
        return strings.TRAIN_STOP_REQUESTED.format(id=run.id, grace=runner.STOP_GRACE_S)

    train.stop.click(stop, inputs=attached_run, outputs=train.message)

    view = guarded(partial(train_step.view_updates, train))
    train.timer.tick(view, inputs=[attached_run, train.signature], outputs=train.view_outputs(),
                     show_progress="hidden")
    attached_run.change(lambda run_id: view(run_id, None), inputs=attached_run, outputs=train.view_outputs(),
                        show_progress="hidden")

    @guarded
    def export_yaml(values: dict) -> dict:
        try:
            config = form_to_config(form.read(values))
        except ConfigError as error:
            text = "# " + strings.CONFIG_PROBLEMS + "\n" + "\n".join(f"# - {problem_sentence(p)}"
                                                                      for p in error.problems)
            return {train.yaml: text, train.yaml_download: gr.update(visible=False)}
        return {train.yaml: config.to_yaml(),
                train.yaml_download: gr.update(value=train_step.config_yaml_file(config), visible=True)}

    train.yaml_button.click(export_yaml, inputs=inputs, outputs=[train.yaml, train.yaml_download])


# ---------------------------------------------------------------------------------------------------------------
# 6 · Results

def _wire_results(results: results_step.ResultsStep, results_tab: gr.Tab, data: data_step.DataStep,
                  form: FormWidgets, attached_run: gr.State, tabs: gr.Tabs) -> None:
    known_ids = gr.State(None)
    details = guarded(partial(results_step.run_details, results))

    @guarded
    def refresh(picked: str | None, known: list | None) -> dict:
        frame, ids = results_step.runs_overview()
        updates = {results.runs: frame, known_ids: ids}
        if ids != known:
            value = picked if picked in ids else (ids[0] if ids else None)
            updates[results.pick] = gr.update(choices=ids, value=value)
            picked = value
        return updates | details(picked)

    refresh_outputs = [results.runs, known_ids, results.pick] + results_step.details_outputs(results)
    gr.on([results_tab.select, results.timer.tick], refresh, inputs=[results.pick, known_ids],
          outputs=refresh_outputs, show_progress="hidden")
    results.pick.change(details, inputs=results.pick, outputs=results_step.details_outputs(results),
                        show_progress="hidden")

    def row_picked(event: gr.SelectData):
        """Clicking a row of the runs table picks that run."""
        return event.row_value[0] if event.row_value else gr.skip()

    results.runs.select(row_picked, outputs=results.pick, show_progress="hidden")

    def with_run(action):
        """A button handler on the picked run; a missing run or a refusal is one sentence in the message."""
        @guarded
        def handler(run_id: str | None, *rest):
            run = results_step.picked_run(run_id)
            if run is None:
                return {results.message: strings.RUN_GONE.format(id=run_id) if run_id else strings.RUN_NONE_PICKED}
            try:
                return action(run, *rest)
            except runner.RunnerError as error:
                return {results.message: f"✗ {error}"}
        return handler

    results.attach.click(with_run(lambda run: {attached_run: run.id, tabs: gr.Tabs(selected="train"),
                                               results.message: ""}),
                         inputs=results.pick, outputs=[attached_run, tabs, results.message])

    def resume(run):
        note = runner.resume(run)
        message = strings.RUN_RESUMED.format(id=run.id) + (f" {note}" if note else "")
        return {attached_run: run.id, results.message: message}

    results.resume.click(with_run(resume), inputs=results.pick, outputs=[attached_run, results.message])

    def use_settings(run):
        try:
            loaded = config_to_form(load_config(run.config_path))
        except ConfigError as error:
            return {results.message: "✗ " + " ".join(problem_sentence(p) for p in error.problems)}
        try:
            columns = list(data_step.read_table(web_data_path(loaded.data_path)).column_names)
        except ConfigError:
            columns = []
        message = strings.RUN_SETTINGS_LOADED.format(id=run.id)
        left_out = [row.name for row in loaded.rewards if web_kind_problem(row.kind)]
        if left_out:  # a run made with the CLI may use python rewards; the web form never holds them
            loaded.rewards = [row for row in loaded.rewards if row.name not in left_out]
            message += " " + strings.RUN_SETTINGS_LEFT_OUT.format(names=", ".join(left_out))
        # The columns come with the run's settings: mark its file as the one they belong to (no re-guessing).
        return form.write(loaded, columns) | {data.shown_path: loaded.data_path, results.message: message}

    results.use_settings.click(with_run(use_settings), inputs=results.pick,
                               outputs=form.write_outputs() + [data.shown_path, results.message]).then(
        guarded(lambda values: _data_updates(data, form, values)),
        inputs=form.value_components() | {data.shown_path}, outputs=data_outputs(data))

    def evaluate(run, limit):
        runner.start_eval(run, int(limit) if limit else None)
        return {results.message: strings.EVAL_STARTED.format(id=run.id)} | details(run.id)

    results.eval_button.click(with_run(evaluate), inputs=[results.pick, results.eval_limit],
                              outputs=[results.message] + results_step.details_outputs(results))

    def export(run, merge: bool):
        runner.start_export(run, merge)
        return {results.message: ""} | details(run.id)

    for button, merge in ((results.export_zip, False), (results.export_merge, True)):
        button.click(with_run(partial(export, merge=merge)), inputs=results.pick,
                     outputs=[results.message] + results_step.details_outputs(results))

    @guarded
    def ask(run_id: str | None, question: str):
        run = results_step.picked_run(run_id)
        if run is None:
            raise gr.Error(strings.RUN_NONE_PICKED)
        if not (question or "").strip():
            raise gr.Error(strings.CHAT_EMPTY)
        try:
            base, tuned = chat.answer_both(run, question.strip())
        except Exception as error:  # a model that cannot be loaded here (offline hub id, deleted folder, memory)
            lines = str(error).strip().splitlines()
            raise gr.Error(strings.CHAT_FAILED.format(error=f"{type(error).__name__}: {lines[0] if lines else ''}"),
                           print_exception=False) from None
        return base.strip(), tuned.strip()

    results.chat_button.click(ask, inputs=[results.pick, results.chat_prompt],
                              outputs=[results.chat_base, results.chat_tuned], concurrency_limit=1)
