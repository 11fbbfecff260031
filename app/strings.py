"""Every sentence the app shows, in one place (labels, help, messages), so wording stays consistent and can be
reviewed or translated without reading the UI code."""

TITLE = "GRPO Studio"
TAGLINE = ("Train a small “thinking” model with GRPO: pick a model, a preset and your data, shape the rewards, "
           "watch it learn.")
CPU_DEMO_BANNER = ("**CPU demo mode** — no usable NVIDIA GPU was found, so training runs on the CPU. Use the "
                   "built-in models (builtin:tiny, builtin:smollm2-135m); settings start at demo sizes so a run "
                   "takes seconds. Real models need an NVIDIA GPU.")
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
               "most reliably; the estimate assumes the preset and settings chosen in step 2.")
MODEL_GPU = "**GPU:** {description}"
MODEL_NO_GPU = "**No NVIDIA GPU: CPU demo mode.** Only the built-in models are practical here."
MODEL_PICK_LABEL = "Recommended models"
MODEL_NAME_LABEL = "Model"
MODEL_NAME_INFO = "A hub id (e.g. Qwen/Qwen2.5-1.5B-Instruct), a model folder on this machine, or builtin:tiny."
MODEL_TABLE_HEADERS = ["Model", "Size", "VRAM estimate", "Fits this machine?"]
MODEL_EMPTY = "Type a model: a hub id such as Qwen/Qwen2.5-1.5B-Instruct, a local folder, or builtin:tiny."
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
                "resets the settings below, the rewards (step 4) and the answer pattern (step 3) to its values.")
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
DATA_PATH_LABEL = "Data file in use"
DATA_PATH_INFO = ("Uploads are stored in the uploads folder. You can also type the name of an uploaded file, or "
                  "hf:<owner>/<dataset>[:config][:split], and press Enter.")
DATA_PATH_REFUSED = ("{path} is not a file uploaded here; from the web page only uploaded files and the bundled "
                     "sample can be used, so upload it with the box on the left")
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
REWARDS_INTRO = ("Each reward scores every completion; the total (each score times its weight) is what GRPO "
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
REWARD_SCORE_NONE = "n/a"
REWARD_SCORE_NONE_TIP = "not scored: no gold answer (or tests, for code) for this completion"
REWARD_DUPLICATE = "the name '{name}' is used by another reward; names must be unique"
TRY_HEADING = "### Try it"
TRY_INTRO = "Paste or type a completion and see how each reward scores it, live as you edit the text or the rewards."
TRY_COMPLETION = "Completion"
TRY_GOLD = "Gold answer"
TRY_GOLD_INFO = ("What a correctness reward (answer match) compares with. Code rewards run the program against the "
                 "tests of the question \"Generate one\" answered, else of your data's first row.")
TRY_EXAMPLE_COMPLETION = ("<thought>\nThere are 3 boxes with 4 apples each, so 3 * 4 = 12.\n</thought>\n"
                          "<answer>12</answer>")
TRY_EXAMPLE_GOLD = "12"
TRY_GENERATE = "Generate one from the model"
TRY_GENERATE_INFO = ("The chosen model answers a question from your data, prompted and sampled as in training "
                     "(the first time loads the model: seconds for small models, longer for large ones).")
TRY_GENERATED = "Generated by {model} for: \"{question}\""
TRY_TOTAL = "**Total: {total}**"
TRY_TOTAL_HEADERS = ["Reward", "Score", "Weight", "Weighted"]
TRY_NOTHING = "Add a reward to see scores."
PROMPT_LABEL = "System prompt and tags"
PROMPT_SYSTEM = "System prompt"
PROMPT_SYSTEM_INFO = ("Sent before every question. {thought_open} {thought_close} {answer_open} {answer_close} are "
                      "replaced by the tags.")
PROMPT_THOUGHT_OPEN = "Thought tag: open"
PROMPT_THOUGHT_CLOSE = "Thought tag: close"
PROMPT_ANSWER_OPEN = "Answer tag: open"
PROMPT_ANSWER_CLOSE = "Answer tag: close"

# 5 Train --------------------------------------------------------------------------------------------------------
TRAIN_CHECK_HEADING = "### Before you launch"
TRAIN_CHECK_BUTTON = "Check again"
TRAIN_CHECKING = "Checking the settings against the data, the model and this machine…"
TRAIN_LAUNCH = "Launch training"
TRAIN_STOP = "■ Stop (after this step)"
TRAIN_READY = "✓ **Ready to train.**"
TRAIN_NOT_READY = "✗ **Fix these before launching:**"
TRAIN_WARNINGS = "**Worth knowing:**"
TRAIN_FACTS = "What will happen (machine, backend, batch, data, VRAM estimate)"
TRAIN_LAUNCHED = "Launched run **{id}**. The first step starts after the model loads."
TRAIN_STOP_REQUESTED = ("Stopping run {id}: it finishes the current step, then saves a checkpoint and the adapter. "
                        "If it is still running in {grace} s, it is asked to stop at once.")
TRAIN_NOT_RUNNING = "Run {id} is not running ({state}); there is nothing to stop."
STOPPING_RUN_ON_EXIT = ("GRPO Studio is shutting down: run {id} stops after its current step (checkpoint and adapter "
                        "saved; resume it from step 6).")
TRAIN_NO_RUN = "No run yet. Check the summary above and launch one."
TRAIN_RUN_HEADER = "**Run {id}** · {model} · preset {preset} · backend {backend}"
TRAIN_STEP = "Step {step}/{max_steps}"
TRAIN_TIMES = "{elapsed} elapsed · ETA {eta}"
TRAIN_STATE = {
    "starting": "Starting: loading the model and data…",
    "running": "▶ Training",
    "completed": "✓ Completed",
    "stopped": "■ Stopped: resume it from the Results step.",
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
TRAIN_VRAM_PROCESS = " ({process:.1f} GiB by this run)"
TRAIN_VRAM_NONE = "VRAM: n/a — CPU mode (no NVIDIA GPU)"
CURVES_PENDING = "*The curves appear after the first logged step.*"
PLOT_REWARD = "Reward (total and each reward's mean)"
PLOT_SPREAD = "Reward spread within groups (reward_std)"
PLOT_LENGTH = "Completion length (tokens)"
PLOT_LOSS = "Loss"
SAMPLES_LABEL = "Recent completions and their scores"
SAMPLES_HEADERS_FIXED = ["step", "question", "completion", "gold"]
SAMPLES_TOTAL = "total"
HINTS_HEADING = "**Health:**"
HINT_ALL_GOOD = "Nothing unusual so far."
HINT_NO_SPREAD = ("For the last {steps} steps all generations of a prompt scored the same (reward_std 0), so GRPO has "
                  "nothing to learn from — loosen the format reward (e.g. search instead of whole completion, or "
                  "add partial credit with tag_count) or raise train.temperature.")
HINT_FORMAT_STUCK = ("The format reward '{name}' has stayed at {value:g} for {steps} steps: the model never writes the "
                     "format — show an example in the system prompt, loosen the pattern, or pick a larger model.")
HINT_CLIPPED = ("{share:.0%} of the completions hit max_completion_length ({length} tokens) and are cut off before "
                "their answer — raise train.max_completion_length (step 2, advanced).")
HINT_EQUAL_GROUPS = ("Over the last {steps} steps, for {share:.0%} of the questions every answer scored the same, so "
                     "GRPO learned only from the rest — raise train.temperature or train.num_generations, or give "
                     "partial credit in the rewards (e.g. tag_count).")
HINT_GAMING = ("The model may be gaming the rewards: the format reward {names} is at its maximum, but held-out "
               "accuracy went from {first:.0%} to {last:.0%} over {checks} checks — make the format reward stricter "
               "or weigh correctness more, and use the best checkpoint rather than the last.")
HINT_REGEX_TIMEOUT = ("The pattern of '{name}' timed out on {count} completions (catastrophic backtracking) and "
                      "those were not scored — simplify nested repeats like (a+)+.")
HINT_NAN = "The loss became NaN — lower train.learning_rate or train.max_grad_norm."
HINT_RISING = "↗ The reward is rising: {first:.2f} → {last:.2f} (average of the first and last few steps)."
CONFIG_EXPORT_LABEL = "Export config (the YAML that reproduces this run)"
CONFIG_EXPORT_BUTTON = "Show the YAML for the current settings"
CONFIG_DOWNLOAD = "Download config.yaml"
CONFIG_PROBLEMS = "The settings have problems; fix them first:"

# Problem locations: which step a config key is edited in.
STEP_OF_KEY = [("model.name", "Step 1 · Model"), ("model.", "Step 2 · Preset → Advanced"),
               ("train.", "Step 2 · Preset → Advanced"), ("preset", "Step 2 · Preset"), ("data.", "Step 3 · Data"),
               ("rewards", "Step 4 · Rewards"), ("prompt", "Step 4 · Rewards → System prompt and tags")]

# Runs (runner) --------------------------------------------------------------------------------------------------
ONE_RUN_AT_A_TIME = ("Run {id} is still {state}; one training run at a time fits on one GPU. Stop it (step 5) or "
                     "wait until it finishes.")
RESUME_NOT_POSSIBLE = "Run {id} is {state}; only a stopped or failed run can be resumed."
RESUME_NO_CHECKPOINT = "Run {id} has no complete checkpoint yet, so resuming starts it again from step 0."
RESUME_FROM = "It continues from {checkpoint}, its newest complete checkpoint."
LAUNCH_FAILED = "The trainer could not be started: {error}"
JOB_BUSY = "A {kind} of run {id} is already running."
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
RUN_SETTINGS_LOADED = "Loaded the settings of run {id} into steps 1–4; change what you like and launch."
RUN_SETTINGS_LEFT_OUT = "Its python rewards ({names}) were left out: the web app runs no user code."
RUN_RESUMED = "Resuming run {id}; watch it in the Train view."
RUN_NONE_PICKED = "Pick a run first."
RUN_GONE = "Run {id} is no longer in the runs folder."
EVAL_HEADING = "### Evaluate: base vs tuned"
EVAL_LIMIT = "Held-out questions to evaluate (0: all)"
EVAL_BUTTON = "Run evaluation"
EVAL_STARTED = "Evaluating run {id} (greedy, one completion per held-out question)…"
EVAL_RUNNING = "Evaluation running…"
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
CHAT_FAILED = "The models of this run could not be loaded for chat: {error}"
CHAT_NO_ADAPTER = "(no adapter yet: this run has not completed or been stopped)"
EXPORT_HEADING = "### Export"
EXPORT_ZIP = "Make the adapter zip"
EXPORT_MERGE = "Merge and save 16-bit model"
EXPORT_RUNNING = "Export running…"
EXPORT_DOWNLOAD = "{label}: `{name}` ({size})"
EXPORT_MERGED = "Merged 16-bit model: `{folder}` (load it with transformers or vLLM)."
EXPORT_FAILED = "The export failed: {error} (log: `{path}`)."
DOWNLOAD_ADAPTER = "Download adapter zip"
DOWNLOAD_CONFIG = "Download config.yaml"

# 6 Results: the queue, housekeeping, downloads, the completions by step, TensorBoard ----------------------------
TRAIN_QUEUED = ("Run **{id}** is queued (position {position}): it starts by itself when the runs before it end, "
                "even with this page closed. Reorder or cancel it in step 6.")
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
HISTORY_SHOWN = "Step {step}: {count} completions (of {steps} logged steps, {first} to {last})."
TENSORBOARD_HEADING = "### TensorBoard"
TENSORBOARD_LOGS = "This run's TensorBoard logs (metrics and the completions of every logged step): `{path}`"
TENSORBOARD_NO_LOGS = ("This run keeps no TensorBoard logs (train.report_to: {tracker}); runs made with report_to "
                       "tensorboard do.")
TENSORBOARD_START = "Open TensorBoard"
TENSORBOARD_STARTING = "Starting TensorBoard…"
TENSORBOARD_RUNNING = ("TensorBoard runs beside the app on port {port}: [open it]({url}) (every run in the runs "
                       "folder; this one is `{id}/tensorboard`){login}.")
TENSORBOARD_LOGIN = "; sign in with the app's user and password"
TENSORBOARD_FAILED = "TensorBoard could not be started: {error}"
