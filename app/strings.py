"""Every sentence the app shows, in one place (labels, help, messages), so wording stays consistent and can be
reviewed or translated without reading the UI code."""

TITLE = "GRPO Studio"
TAGLINE = ("Train a small “thinking” model with GRPO: pick a model, a preset and your data, shape the rewards, "
           "watch it learn.")
CPU_DEMO_BANNER = ("**CPU demo mode** — no usable NVIDIA GPU was found, so training runs on the CPU with the built-in "
                   "models. Here every part works, but no run will show a model getting better: builtin:tiny is a "
                   "random model that writes noise, and the real builtin:smollm2-135m takes minutes per step on a "
                   "CPU, too slow for a rising curve. How long a run will take is shown before you launch it, once "
                   "a step has been measured here (the probe measures one). Real models need an NVIDIA GPU. **To see "
                   "what a run that learns looks like**, open the run bundled with the app (SmolLM2-135M on an H100: "
                   "its format reward rose from 0.3 to 2.5 in 200 steps).")
CPU_DEMO_EXAMPLE_BUTTON = "Open the bundled GPU run"
CPU_DEMO_WHY = "*Why:*"
UNEXPECTED_ERROR = ("Something went wrong in the app ({what}); the details are in the app's console log. "
                    "Your runs are safe.")
NEXT = "Next →"

# Tabs -----------------------------------------------------------------------------------------------------------
TAB_MODEL = "1 · Model"
TAB_PRESET = "2 · Preset"
TAB_DATA = "3 · Data"
TAB_REWARDS = "4 · Rewards"
TAB_TRAIN = "5 · Train"
TAB_RESULTS = "6 · Results"

# 1 Model --------------------------------------------------------------------------------------------------------
MODEL_INTRO = ("Choose the model to teach. Instruct models of 1.5B parameters or more learn the thinking format "
               "most reliably; the estimate assumes the preset and settings chosen in the Preset tab.")
MODEL_GPU = "**GPU:** {description}"
MODEL_GPUS = "**GPUs:**"
MODEL_GPU_ROW = "- GPU {index}: {name}, {total:.0f} GiB"
MODEL_SPLIT = "**On this machine's GPUs:** {split}"
MODEL_GPU_ESTIMATE_ROW = "- GPU {index} ({role}): ~{estimate:.1f} of {total:.0f} GiB"
MODEL_NO_GPU = "**No NVIDIA GPU: CPU demo mode.** Only the built-in models are practical here."
MODEL_PICK_LABEL = "Recommended models"
MODEL_NAME_LABEL = "Model"
MODEL_NAME_INFO = ("A hub id (e.g. Qwen/Qwen2.5-1.5B-Instruct), the name of a model folder in the models folder, "
                   "or builtin:tiny.")
MODEL_TABLE_HEADERS = ["Model", "Size", "VRAM estimate", "Fits this machine?"]
MODEL_EMPTY = ("Type a model: a hub id such as Qwen/Qwen2.5-1.5B-Instruct, the name of a folder in the models "
               "folder, or builtin:tiny.")
MODEL_FITS = "fits"
MODEL_TIGHT = "tight"
MODEL_TOO_BIG = "too big — try 4-bit"
MODEL_CPU_ONLY_BUILTIN = "yes (CPU)"
MODEL_CPU_SLOW = "needs a GPU"
MODEL_SIZE_UNKNOWN = "unknown size"
MODEL_SUMMARY = "**{name}** · {size} · estimated peak VRAM {estimate} with the current settings{versus}."
MODEL_SUMMARY_BUILTIN = "**{name}** · {description}."
MODEL_VERSUS_GPU = " (this GPU has {total:.0f} GiB)"
MODEL_SMALL_WARNING = "⚠ Small model: {warning}."

# 2 Preset -------------------------------------------------------------------------------------------------------
PRESET_INTRO = ("A preset is a starting point: a system prompt, a set of rewards and training sizes. Choosing one "
                "resets the settings below, the rewards (Rewards tab) and the answer pattern (Data tab) to its values.")
PRESET_LABEL = "Preset"
PRESET_CARD = "**{name}** — {description}"
PRESET_UNAVAILABLE = "**{name}** — {description}  \n✗ *Not available here: {reason}.*"
ADVANCED_LABEL = "Advanced settings (model and training)"
ADVANCED_MODEL_HEADING = "#### Model"
ADVANCED_TRAIN_HEADING = "#### Training"
OPTIONAL_NUMBER_HINT = "Leave empty for the default."

# 3 Data ---------------------------------------------------------------------------------------------------------
DATA_INTRO = ("Bring a file of questions (and gold answers, for rewards that check correctness): JSONL, JSON, CSV or "
              "Parquet, up to {limit}. Without one, the bundled GSM8K sample (grade-school math) is used; for the "
              "rlvr-code preset, use the bundled HumanEval sample (164 Python problems with their tests).")
DATA_UPLOAD_LABEL = "Upload a data file (.jsonl, .json, .csv, .parquet; up to {limit})"
DATA_SAMPLE_BUTTON = "Use the bundled GSM8K sample"
DATA_CODE_SAMPLE_BUTTON = "Use the bundled HumanEval sample (code)"
DATA_ARITHMETIC_BUTTON = "Use the arithmetic sample (learnable by a small model)"
DATA_ARITHMETIC_DIFFICULTY = "Arithmetic difficulty"
DATA_ARITHMETIC_CHOICE = "{name}: {help}"
DATA_ARITHMETIC_USED = ("Using {train}: {rows} word problems ({help}) with numeric answers. Beside it, {test} holds "
                        "{test_rows} held-out questions, none of them in the training file: after the run, "
                        "`python -m engine eval RUN_FOLDER --data {test_path}` measures the tuned model on them.")
DATA_ARITHMETIC_UNKNOWN = "Pick a difficulty: {choices}."
DATA_PATH_LABEL = "Data file in use"
DATA_PATH_INFO = ("Uploads are stored in the uploads folder. You can also type the name of an uploaded file, or "
                  "hf:<owner>/<dataset>[:config][:split], and press Enter.")
DATA_PATH_REFUSED = ("{path} is not a file uploaded here; from the web page only uploaded files and the bundled "
                     "sample can be used, so upload it with the box on the left")
MODEL_FOLDER_REFUSED = ("{name} is neither a hub id like Qwen/Qwen2.5-1.5B-Instruct nor a model folder in the models "
                        "folder ({folder}); from the web page only those, a run's merged model and the built-in "
                        "models can be used, so copy the model folder there and type its name")
DATA_HUB_ID_REFUSED = "{path} is not a hub dataset id; write hf:<owner>/<dataset>[:config][:split]"
DATA_UPLOAD_NOT_UPLOADED = "That file did not come through the upload box; upload it again."
DATA_UPLOAD_WRONG_KIND = "{name} is not a data file; upload a .jsonl, .json, .csv or .parquet file."
DATA_PROMPT_COLUMN = "Question column"
DATA_PROMPT_COLUMN_INFO = "The column the model is asked."
DATA_ANSWER_COLUMN = "Answer column"
DATA_ANSWER_COLUMN_INFO = "The gold answer, for rewards that check correctness; (none) for format-only presets."
DATA_NO_ANSWER = "(none)"
DATA_PATTERN_LABEL = "Answer-extraction regex"
DATA_PATTERN_INFO = ("Takes the gold answer out of the answer column (group 1), e.g. ####\\s*(.+?)\\s*$ for GSM8K. "
                     "Rows where it does not match keep the whole cell. Empty: the whole cell.")
DATA_PREVIEW_LABEL = "Preview (first rows, with the gold answer as the rewards will see it)"
DATA_GOLD_COLUMN = "→ gold answer"
DATA_SUMMARY = "✓ **{file}** · {describe}."
DATA_SETTINGS_LABEL = "Split settings"
DATA_UPLOAD_TOO_BIG = "{name} is {size}; the limit is {limit}. Use a smaller file or a sample of it."
DATA_UPLOAD_STORED = "Uploaded {name}."

# 4 Rewards ------------------------------------------------------------------------------------------------------
REWARDS_INTRO = ("Each reward scores every completion; the total (each score times its weight) is what training "
                 "maximises. *Format* rewards check the shape of the answer, *correctness* rewards compare it with "
                 "the gold answer, *shaping* rewards nudge style or length. Patterns are regular expressions (DOTALL: "
                 "`.` also matches new lines) and may use the tag placeholders {thought_open}, {thought_close}, "
                 "{answer_open}, {answer_close}.")
REWARD_NAME = "Name"
REWARD_KIND = "Kind"
REWARD_WEIGHT = "Weight"
REWARD_SCORE_MET = "Reward"
REWARD_SCORE_MISSED = "Penalty"
# A row's help: the kind's category, then its own one-line help (engine.rewards registry).
REWARD_KIND_HELP = "*{category}* — {help}"
REWARD_CATEGORY = {"format": "Format", "correctness": "Correctness", "shaping": "Shaping"}
REWARD_NOT_FROM_WEB = ("{kind} rewards run your own code, which the web app never does; use them in a YAML config "
                       "with `python -m engine train`")
REWARD_UNKNOWN_KIND = "'{kind}' is not a reward kind; choose one from the list"
REWARD_ADD = "+ Add a reward"
REWARD_UP = "↑"
REWARD_DOWN = "↓"
REWARD_REMOVE = "✕"
REWARD_LIMIT = "At most {limit} rewards; remove one first."
REWARD_NEEDS_ONE = "There are no rewards; add at least one, or choose a preset again."
# Words for the choices of a reward field's dropdown (the config keeps the short names)
REWARD_CHOICE_LABELS = {"match": {"search": "anywhere (search)", "start": "from the start (start)",
                                  "full": "the whole completion (full)"}}
REWARD_SCORE_NONE = "n/a"
REWARD_SCORE_NONE_TIP = "not scored: no gold answer (or tests, for code) for this completion"
REWARD_DUPLICATE = "the name '{name}' is used by another reward; names must be unique"
TRY_HEADING = "### Try it"
TRY_INTRO = "Paste or type a completion and see how each reward scores it, live as you edit the text or the rewards."
TRY_COMPLETION = "Completion"
TRY_GOLD = "Gold answer"
TRY_GOLD_INFO = ("The gold answer of the question above, as the rewards see it (its answer column, after the "
                 "answer-extraction regex of the Data tab); code rewards run the program against that row's tests.")
TRY_ROW = "**Question (row {number} of {file}):** {question}"
TRY_ROW_GENERATED = "**Question (the one the model just answered):** {question}"
TRY_NO_ROW = "*No data row to grade against: choose a data file in the Data tab.*"
TRY_NO_GOLD = "(none: no answer column chosen in the Data tab)"
TRY_EXAMPLE_COMPLETION = ("<thought>\nThere are 3 boxes with 4 apples each, so 3 * 4 = 12.\n</thought>\n"
                          "<answer>12</answer>")
TRY_GENERATE = "Generate one from the model"
TRY_GENERATE_INFO = ("The chosen model answers a question from your data, prompted and sampled as in training "
                     "(the first time loads the model: seconds for small models, longer for large ones).")
TRY_GENERATING = ("◷ {model} is answering a question of your data (the first time loads the model: seconds for a "
                  "small model, a minute or more for a large one)…")
TRY_GENERATED = "Generated by {model} in {seconds:.1f} s for: \"{question}\""
TRY_TOTAL = "**Total: {total}**"
TRY_TOTAL_HEADERS = ["Reward", "Score", "Weight", "Weighted", "Matched"]
TRY_NO_MATCH = "(no match)"
TRY_LINE_BREAK = "⏎"  # a line break in a matched text, so a match that spans lines reads on one table line
TRY_MATCH_CHARS = 120
TRY_NOTHING = "Add a reward to see scores."
PROMPT_LABEL = "System prompt and tags"
PROMPT_SYSTEM = "System prompt"
PROMPT_SYSTEM_INFO = ("Sent before every question. {thought_open} {thought_close} {answer_open} {answer_close} are "
                      "replaced by the tags.")
PROMPT_THOUGHT_OPEN = "Thought tag: open"
PROMPT_THOUGHT_CLOSE = "Thought tag: close"
PROMPT_ANSWER_OPEN = "Answer tag: open"
PROMPT_ANSWER_CLOSE = "Answer tag: close"

# The learnability probe (Rewards and Train tabs) -----------------------------------------------------------------
PROBE_BUTTON = "Will it learn? Probe the model on a few questions"
PROBE_INFO = ("Samples answers to {prompts} questions of your data exactly as training will, scores them with every "
              "reward and says whether training has something to learn from — before you spend the run.")
PROBE_RUNNING = ("◷ Probing: {model} answers {prompts} questions × {k} times, then every reward scores them "
                 "(running for {elapsed}; the first part loads the model).")
PROBE_VERDICT = "{icon} {text}"
PROBE_CHANGE = "→ {sentence}"
PROBE_ALSO = "Also: {text}"
PROBE_AUDIT = "Verifier audit: {headline}"  # the engine's sentence (engine.rewards.verifier_audit)
PROBE_AUDIT_CASE = "• {case}"
PROBE_FOOTER = ("*Probed {prompts} questions × {k} answers with {model} in {seconds:.0f} s. One training step here "
                "takes about {step:.1f} s, so the run's {steps} steps take about {run}.*")
PROBE_APPLY = "Apply this change"
PROBE_APPLIED = "✓ Applied: {changes}. Probe again to see the difference."
PROBE_FAILED = "✗ The probe could not run: {error}"
PROBE_UNREADABLE = "✗ The probe's report cannot be read; probe again."
CURATE_BUTTON = "Find the questions this model can learn from"
CURATE_INFO = ("Samples answers to every training question exactly as training will (as many per question as the "
               "run's generations), scores them with the rewards and keeps the questions it gets right sometimes "
               "but not always: GRPO learns only from those.")
CURATE_INFO_CPU = " On this CPU only {limit} of the training questions are sampled, so that it ends in minutes."
CURATE_STARTING = "◷ Curating: loading {model} (running for {elapsed})."
CURATE_RUNNING = ("◷ Curating: sampled {done} of {total} questions × {k} answers with {model} "
                  "(running for {elapsed}).")
CURATE_LEARNABLE = "✓ {counts} — train on those."
CURATE_NOTHING = "⚠ {summary}."  # engine.curation.summary: the counts and what to try
CURATE_FOOTER = "*Sampled {questions} questions × {k} answers with {model} ({generator}) in {seconds:.0f} s.*"
CURATE_FOOTER_LIMITED = " *Only {limit} of the training questions were sampled here (CPU); a GPU samples them all.*"
CURATE_PASS = {"right answer": "right answers", "in format": "answers in the format"}
CURATE_HISTOGRAM = ("| {what}, of {k} | questions | |\n|---|---:|---|\n{rows}")
CURATE_TOO_HARD, CURATE_TOO_EASY = " (too hard)", " (too easy)"
CURATE_APPLY = "Train on those {n} questions"
CURATE_APPLIED = "✓ The data step now uses {file}: the {n} learnable questions."
CURATE_DATA_MESSAGE = ("Using {file}: the {n} questions this model can learn from, as the probe box's curation found "
                       "them (curation.json beside it holds every question's pass rate).")
CURATE_FAILED = "✗ The curation could not run: {error}"
CURATE_UNREADABLE = "✗ The curation's report cannot be read; run it again."

# 5 Train --------------------------------------------------------------------------------------------------------
TRAIN_CHECK_HEADING = "### Before you launch"
TRAIN_CHECK_BUTTON = "Check again"
TRAIN_CHECKING = "Checking the settings against the data, the model and this machine…"
TRAIN_LAUNCH = "Launch training"
TRAIN_STOP = "■ Stop (after this step)"
TRAIN_READY = "✓ **Ready to train.**"
TRAIN_DURATION = "**How long:** {duration}."
TRAIN_NOT_READY = "✗ **Fix these before launching:**"
TRAIN_WAIT_FOR_RUN = "‖ **Not now:** {busy}"
TRAIN_REFUSED = "Not launched: {reasons}"
TRAIN_WARNINGS = "**Worth knowing:**"
TRAIN_FACTS = "What will happen (machine, backend, batch, data, VRAM estimate)"
TRAIN_STARTING = "◷ Starting the trainer: it checks the config and takes the one-run lock (a few seconds)…"
TRAIN_LAUNCHED = "Launched run **{id}**. The first step starts after the model loads."
TRAIN_STOP_REQUESTED = ("Stopping run {id}: it finishes the current step, then saves a checkpoint and the adapter. "
                        "If it is still running in {grace} s, it is asked to stop at once.")
TRAIN_STOPPED = ("Run {id} stopped after step {step}: its checkpoint and adapter are saved; resume it from the Results "
                 "tab.")
TRAIN_NOT_RUNNING = "Run {id} is not running ({state}); there is nothing to stop."
STOPPING_RUN_ON_EXIT = ("GRPO Studio is shutting down: run {id} stops after its current step (checkpoint and adapter "
                        "saved; resume it from the Results tab).")
TRAIN_NO_RUN = "No run yet. Check the summary above and launch one."
TRAIN_RUN_HEADER = "**Run {id}** · {model} · preset {preset} · backend {backend}"
TRAIN_STEP = "Step {step}/{max_steps}"
TRAIN_TIMES = "{elapsed} elapsed · ETA {eta}"
TRAIN_TIME_TOTAL = "{elapsed} in all"
TRAIN_STATE = {
    "starting": "Starting: loading the model and data…",
    "running": "▶ Training",
    "completed": "✓ Completed",
    "stopped": "■ Stopped: resume it from the Results tab.",
    "failed": "✗ Failed",
    "unreadable": "✗ Unreadable",
    "unknown": "…",
}
TRAIN_FAILED = "The run failed: {error}"
TRAIN_FAILED_UNKNOWN = "the trainer process ended without saying why"
TRAIN_UNREADABLE = ("This run's folder is damaged ({error}); other runs are not affected. Resuming it rewrites its "
                    "status.")
TRAIN_LOG_PATH = "The full log is in `{path}`."
TRAIN_LOG_DOWNLOAD = "Download log.txt"
TRAIN_VRAM = "VRAM {used:.1f} / {total:.0f} GiB used on the GPU{process}"
TRAIN_VRAM_GPU = "GPU {index}: VRAM {used:.1f} / {total:.0f} GiB{process}"
TRAIN_VRAM_PROCESS = " ({process:.1f} GiB by this run)"
TRAIN_VRAM_NONE = "VRAM: n/a — CPU mode (no NVIDIA GPU)"
CURVES_PENDING = "*The curves appear after the first logged step.*"
PLOT_REWARD = "Reward (total and each reward's mean)"
PLOT_SPREAD = "Reward spread within groups (reward_std)"
PLOT_LENGTH = "Completion length (tokens)"
PLOT_LOSS = "Loss"
PLOT_HELDOUT = "Held-out checks (greedy answers to questions it does not train on)"
SAMPLES_LABEL = "Recent completions and their scores"
SAMPLES_HEADERS_FIXED = ["step", "question", "completion", "gold"]
SAMPLES_TOTAL = "total"
HINTS_HEADING = "**Health:**"
HINT_ALL_GOOD = "Nothing unusual so far."
CONFIG_EXPORT_LABEL = "Export config (the YAML that reproduces this run)"
CONFIG_EXPORT_BUTTON = "Show the YAML for the current settings"
CONFIG_DOWNLOAD = "Download config.yaml"
CONFIG_PROBLEMS = "The settings have problems; fix them first:"

# Plain words for each config key, shown first; the key itself follows in brackets ("Completions per question
# (num_generations)"), since the YAML, the CLI and the docs use it.
KEY_WORDS = {
    "model.name": "model",
    "model.backend": "training backend",
    "model.lora_rank": "LoRA rank",
    "model.lora_alpha": "LoRA alpha",
    "model.max_seq_length": "longest prompt + answer (tokens)",
    "model.load_in_4bit": "load in 4-bit",
    "model.load_in_fp8": "load in FP8",
    "model.rollout": "answer generator",
    "model.gpu_memory_utilization": "vLLM's share of GPU memory",
    "model.vllm_standby": "vLLM standby",
    "model.gradient_checkpointing": "gradient checkpointing",
    "train.max_steps": "training steps",
    "train.num_generations": "completions per question",
    "train.batch_size": "completions per step",
    "train.gradient_accumulation_steps": "gradient accumulation steps",
    "train.max_completion_length": "longest answer (tokens)",
    "train.learning_rate": "learning rate",
    "train.lr_scheduler_type": "learning-rate schedule",
    "train.warmup_ratio": "warm-up share of steps",
    "train.weight_decay": "weight decay",
    "train.max_grad_norm": "gradient clipping",
    "train.optim": "optimizer",
    "train.temperature": "sampling temperature",
    "train.top_p": "top-p sampling",
    "train.min_p": "min-p sampling",
    "train.beta": "KL penalty",
    "train.loss_type": "loss variant",
    "train.scale_rewards": "reward scaling",
    "train.num_iterations": "passes over each batch",
    "train.steps_per_generation": "batches per generation",
    "train.save_steps": "checkpoint every (steps)",
    "train.logging_steps": "log every (steps)",
    "train.samples_per_step": "samples kept per log",
    "train.report_to": "tracker (TensorBoard, wandb, …)",
    "train.eval_steps": "held-out check every (steps)",
    "train.eval_limit": "questions per held-out check",
    "train.seed": "random seed",
    "data.path": "data file",
    "data.prompt_column": "question column",
    "data.answer_column": "answer column",
    "data.answer_pattern": "answer-extraction regex",
    "data.eval_fraction": "share held out",
    "data.max_rows": "use at most (rows)",
    "data.seed": "shuffle seed",
    "prompt.system_prompt": "system prompt",
    "prompt.start_with_thought": "start inside the thought",
    "prompt.instructions_in": "instructions go in",
    "prompt.thought_tags": "thought tags",
    "prompt.answer_tags": "answer tags",
}
REWARD_ROW_WORDS = "reward {number} ({name})"
# Validator messages (pydantic's wording) in plain words: (pattern, replacement), tried in order.
VALIDATOR_WORDS = [
    (r"^Input should be greater than or equal to (.+?)(?= \(got|$)", r"must be at least \1"),
    (r"^Input should be greater than (.+?)(?= \(got|$)", r"must be more than \1"),
    (r"^Input should be less than or equal to (.+?)(?= \(got|$)", r"must be at most \1"),
    (r"^Input should be less than (.+?)(?= \(got|$)", r"must be less than \1"),
    (r"^Input should be a valid integer[^(]*", "must be a whole number "),
    (r"^Input should be a finite number[^(]*", "must be a finite number "),
    (r"^Input should be a valid number[^(]*", "must be a number "),
    (r"^Input should be a valid boolean[^(]*", "must be on or off "),
    (r"^Input should be a valid string[^(]*", "must be text "),
    (r"^Input should be (.+?)(?= \(got|$)", r"must be \1"),
    (r"^String should have at most (\d+) characters?", r"is too long: at most \1 characters"),
    (r"^String should have at least (\d+) characters?", r"is too short: at least \1 characters"),
    (r"\(got (.+)\)$", r"(you entered \1)"),
]

# Problem locations: which tab a config key is edited in (said after the problem, in brackets).
TAB_OF_KEY = [("model.name", "Model tab"), ("model.", "Preset tab → Advanced settings"),
              ("train.", "Preset tab → Advanced settings"), ("preset", "Preset tab"), ("data.", "Data tab"),
              ("rewards", "Rewards tab"), ("prompt", "Rewards tab → System prompt and tags")]
PROBLEM_WHERE = "{problem} *({tab})*"

# Runs (runner) --------------------------------------------------------------------------------------------------
ONE_RUN_AT_A_TIME = ("Run {id} is still {state}; one training run at a time fits on one GPU. Stop it (Train tab) or "
                     "wait until it finishes.")
TRAINER_STILL_EXITING = "Run {id} has {state}, but its trainer (pid {pid}) is still exiting; try again in a minute."
RESUME_NOT_POSSIBLE = "Run {id} is {state}; only a stopped or failed run can be resumed."
RESUME_NO_CHECKPOINT = "Run {id} has no complete checkpoint yet, so resuming starts it again from step 0."
RESUME_FROM = "It continues from {checkpoint}, its newest complete checkpoint."
LAUNCH_FAILED = "The trainer could not be started: {error}"
JOB_BUSY = "An {kind} of run {id} is already running; wait for it to end, then try again."  # kinds: eval, export
PROBE_BUSY = "A probe is already running; wait for its verdict (one model is loaded at a time)."
CURATE_BUSY = "A curation is already running; wait for its result (one model is loaded at a time)."
JOB_COUNT = "So far: {what}, {done} of {total}."  # a probe's, eval's or export's count (engine/progress_bar.py)
NO_ADAPTER = "Run {id} has no adapter yet; it is saved when the run completes or is stopped."

# 6 Results ------------------------------------------------------------------------------------------------------
RESULTS_INTRO = ("Every run lives in its own folder; pick one (or click its row) to watch it, resume it, evaluate it, "
                 "chat with it or export it.")
RUNS_LABEL = "Runs"
RUNS_HEADERS = ["run", "state", "step", "best reward", "last reward", "model", "preset", "started", "disk"]
RUN_PICK = "Run"
RUN_ATTACH = "Show in the Train view"
RUN_RESUME = "Resume"
RUN_USE_SETTINGS = "Load its settings into the form"
RUN_SETTINGS_LOADED = ("Loaded the settings of run {id} into the Model, Preset, Data and Rewards tabs; change what "
                       "you like and launch.")
RUN_SETTINGS_SAMPLE_DATA = ("Its data file cannot be used from this page, so the bundled GSM8K sample is selected "
                            "in the Data tab instead.")
EXAMPLE_CHOICE = "Example from a GPU: {name}"
EXAMPLE_HEADER = "*Example run, made on a GPU and bundled with the app (read-only):* "
EXAMPLE_READ_ONLY = ("This is a bundled example made on a GPU; its adapter is not included, so it can be watched "
                     "(Show in the Train view), its evaluation read and its settings loaded, nothing more.")
RUN_SETTINGS_LEFT_OUT = "Its python rewards ({names}) were left out: the web app runs no user code."
RUN_RESUMED = "Resuming run {id}; watch it in the Train view."
RUN_NONE_PICKED = "Pick a run first."
RUN_GONE = "Run {id} is no longer in the runs folder."
ADAPTER_LABEL = "Tuned model for evaluation, chat and export"
ADAPTER_BEST = "★ Best checkpoint ({best})"
ADAPTER_BEST_NONE = "Best checkpoint (none marked: no held-out checks yet, so the last adapter)"
ADAPTER_LAST = "Last adapter (step {step})"
ADAPTER_CHOICE_UNKNOWN = "'{which}' is not an adapter choice; choose the best checkpoint or the last adapter"
BEST_TEXT = "step {step}, held-out {what} {value}"
EVAL_TUNED_ADAPTER = "*Tuned = base + {adapter}.*"
EVAL_HEADING = "### Evaluate: base vs tuned"
EVAL_LIMIT = "Held-out questions to evaluate (0: all)"
EVAL_BUTTON = "Run evaluation"
EVAL_RUNNING = ("◷ Evaluating base and tuned (greedy, one answer per held-out question): running for {elapsed}; "
                "the first minute loads the model.")
EVAL_LIMIT_WHOLE = "Held-out questions must be a whole number of 0 or more (you entered {limit:g})."
EVAL_FAILED = "The evaluation failed: {error} (log: `{path}`)."
EVAL_NONE = "Not evaluated yet."
EVAL_UNREADABLE = "The eval.json of this run cannot be read; run the evaluation again."
EVAL_TABLE = ("| | {metric} | format | mean reward | questions |\n|---|---|---|---|---|\n{rows}\n\n"
              "*{data}, greedy decoding, up to {tokens} new tokens, {seconds} s.*")
EVAL_ROW = "| **{name}** | {accuracy} | {format} | {reward:.3f} | {n} |"
CHAT_HEADING = "### Chat: base and tuned side by side"
CHAT_PROMPT = "Question"
CHAT_BUTTON = "Ask both"
CHAT_BASE = "Base model"
CHAT_TUNED = "Tuned model (base + this run's adapter)"
CHAT_EMPTY = "Type a question first."
CHAT_LOADING = ("◷ Loading the base model and the adapter, then answering (the first question loads them: seconds "
                "for a small model, a minute or more for a large one)…")
CHAT_ANSWERED = "Answered in {seconds:.1f} s (greedy, the run's prompt and longest answer)."
CHAT_FAILED = "The models of this run could not be loaded for chat: {error}"
CHAT_NO_ADAPTER = "(no adapter yet: this run has not completed or been stopped)"
EXPORT_HEADING = "### Export"
EXPORT_ZIP = "Make the adapter zip"
EXPORT_MERGE = "Merge and save 16-bit model"
EXPORT_RUNNING = "◷ Export running for {elapsed}…"
EXPORT_DOWNLOAD = "{label}: `{name}` ({size})"
EXPORT_MERGED = "Merged 16-bit model: `{folder}` (load it with transformers or vLLM)."
EXPORT_FAILED = "The export failed: {error} (log: `{path}`)."
DOWNLOAD_ADAPTER = "Download adapter zip"
DOWNLOAD_CONFIG = "Download config.yaml"

# 6 Results: the queue, housekeeping, downloads, the completions by step, TensorBoard ----------------------------
TRAIN_QUEUE = "Add to the queue"
TRAIN_OR_QUEUE = "Or press **Add to the queue**: this run then starts by itself when that one ends."
TRAIN_QUEUED = ("Run **{id}** is queued (position {position}): it starts by itself when the runs before it end, "
                "even with this page closed. Reorder or cancel it in the Results tab.")
RUN_STATE_QUEUED = "queued #{position}"
QUEUE_HEADING = "**Queue:** {runs}"
QUEUE_EMPTY = "**Queue:** empty. A launch while a run trains waits here and starts when that run ends."
QUEUE_EARLIER = "↑ Earlier"
QUEUE_LATER = "↓ Later"
QUEUE_CANCEL = "Cancel this queued run"
QUEUE_MOVED = "Run {id} is now number {position} in the queue."
QUEUE_CANCELLED = "Cancelled queued run {id}."
FREE_SPACE = "**Free space:** {free} of {total} on the disk of the runs folder."
FREE_SPACE_UNKNOWN = "**Free space:** unknown (the runs folder cannot be read)."
DELETE_BUTTON = "Delete run…"
DELETE_CONFIRM = ("Delete run **{id}** and everything in it ({size}: checkpoints, adapter, exports)? This cannot be "
                  "undone.")
DELETE_YES = "Yes, delete it"
DELETE_NO = "Keep it"
DELETED = "Deleted run {id} ({size} freed)."
DELETE_NOT_CONFIRMED = "Nothing was deleted: the confirmation had closed; pick the run and click Delete again."
DELETE_JOB_RUNNING = "Run {id} has an {kind} running; wait until it ends, then delete the run."
EXPORT_MERGED_ZIP = "Make the merged model zip"
EXPORT_GGUF = "Make a GGUF"
EXPORT_GGUF_TYPE = "GGUF type"
EXPORT_GGUF_UNKNOWN = "Choose a GGUF type from the list ({types})."
EXPORT_GGUF_TYPE_INFO = "q8_0: near-lossless, half of f16's size; q4_k_m: smallest (needs llama.cpp's quantizer)."
DOWNLOAD_LABEL = "⬇ {size} · {what}"
DOWNLOAD_WHAT_ADAPTER = "adapter zip"
DOWNLOAD_WHAT_MERGED = "merged model zip"
DOWNLOAD_WHAT_GGUF = "{name}"
HISTORY_HEADING = "### Completions by step"
HISTORY_STEP = "Step"
HISTORY_NONE = "*No completions logged yet.*"
HISTORY_DAMAGED = "*No completions to show: this run is damaged ({error}).*"
HISTORY_UNREADABLE = "*{file} cannot be read ({reason}): this run's completions cannot be shown.*"
HISTORY_SHOWN = "Step {step}: {count} completion{s} (of {steps} logged steps, {first} to {last})."
TENSORBOARD_HEADING = "### TensorBoard"
TENSORBOARD_LOGS = "This run's TensorBoard logs (metrics and the completions of every logged step): `{path}`"
TENSORBOARD_NO_LOGS = ("This run keeps no TensorBoard logs (train.report_to: {tracker}); runs made with report_to "
                       "tensorboard do.")
TENSORBOARD_NOT_WRITTEN = ("Run {id} has no TensorBoard logs: its tensorboard/ folder is not there (the run never "
                           "reached its first step, or the folder was removed).")
TENSORBOARD_DAMAGED = "This run is damaged ({error}): it has no TensorBoard logs to show."
TENSORBOARD_CONFIG_UNREADABLE = ("This run's config.yaml cannot be read ({error}), so whether it keeps TensorBoard "
                                 "logs is unknown.")
TENSORBOARD_START = "Open TensorBoard"
TENSORBOARD_STARTING = "Starting TensorBoard…"
TENSORBOARD_RUNNING = ("TensorBoard runs beside the app on port {port}: [open it]({url}) (every run in the runs "
                       "folder; this one is `{id}/tensorboard`){login}.")
TENSORBOARD_LOGIN = "; sign in with the app's user and password"
TENSORBOARD_FAILED = "TensorBoard could not be started: {error}"

# The app's log (app/log_noise.py) -------------------------------------------------------------------------------
STALE_PICK = ("A page sent {value} for {where}, which is not among its choices (a stale page, or a made-up request); "
              "the event was refused.")
STREAM_OF_GONE_SESSION = ("A page's event stream ended: the app no longer knew its session (a page that was reloaded "
                          "or closed).")
