"""GRPO Studio's web UI (Gradio): forms that build a RunConfig, launch `python -m engine train` as a subprocess,
and draw the run folder it writes. `python -m app` starts it."""
