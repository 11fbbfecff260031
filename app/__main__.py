"""`python -m app` (or `grpo-studio`): serve the UI.

Environment: GRPO_STUDIO_HOST (default 127.0.0.1), GRPO_STUDIO_PORT (7860), GRPO_STUDIO_PASSWORD (set: a login is
required, user GRPO_STUDIO_USER, default admin), GRPO_STUDIO_CPU_DEMO=1 (the Docker preflight found no usable GPU:
show the CPU demo banner), GRPO_STUDIO_STOP_RUNS_ON_EXIT=1 (the Docker image: on SIGTERM, stop the running training
and wait for it to save before exiting; elsewhere runs outlive the app). --host and --port override the environment.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app", description="GRPO Studio's web UI.")
    parser.add_argument("--host", default=os.environ.get("GRPO_STUDIO_HOST") or DEFAULT_HOST,
                        help="address to listen on (0.0.0.0 inside Docker); env GRPO_STUDIO_HOST")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRPO_STUDIO_PORT") or DEFAULT_PORT),
                        help="port to listen on; env GRPO_STUDIO_PORT")
    return parser.parse_args(argv)


def login() -> tuple[str, str] | None:
    password = os.environ.get("GRPO_STUDIO_PASSWORD")
    if not password:
        return None
    return (os.environ.get("GRPO_STUDIO_USER") or "admin", password)


def stop_runs_on_sigterm() -> None:
    """In a container, SIGTERM (`docker stop`, forwarded by tini) precedes the end of every process in it: stop the
    active run gracefully first, then close the server (Gradio's launch() closes it on KeyboardInterrupt)."""
    from app import runner, strings

    def on_sigterm(signum, frame) -> None:
        run = runner.active_run()
        if run is not None:
            print(strings.STOPPING_RUN_ON_EXIT.format(id=run.id), flush=True)
            runner.stop_and_wait(run)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # an appliance: no calls home
    from app.machine import hide_gpu_in_cpu_demo

    hide_gpu_in_cpu_demo()  # before anything reads the GPU; the training subprocesses inherit it
    from engine.rewards.python_function import forbid_user_code

    forbid_user_code()  # the web never runs user Python: a second lock behind the form's refusal (app.form_state)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import gradio as gr

    from engine import settings

    from app.ui import CSS_PATH, build_ui
    from app.uploads import MAX_UPLOAD_TEXT

    for folder in (settings.runs_dir(), settings.uploads_dir()):
        folder.mkdir(parents=True, exist_ok=True)
    demo = build_ui()
    if os.environ.get("GRPO_STUDIO_STOP_RUNS_ON_EXIT") == "1":
        stop_runs_on_sigterm()
    demo.queue(default_concurrency_limit=4)
    print(f"GRPO Studio on http://{arguments.host}:{arguments.port}", flush=True)
    demo.launch(server_name=arguments.host, server_port=arguments.port, auth=login(),
                auth_message="GRPO Studio: sign in with the user and password set in GRPO_STUDIO_USER / "
                             "GRPO_STUDIO_PASSWORD.",
                max_file_size=MAX_UPLOAD_TEXT.replace(" ", "").lower(),
                allowed_paths=[str(settings.runs_dir().resolve()), str(settings.uploads_dir().resolve())],
                theme=gr.themes.Soft(primary_hue="indigo", secondary_hue="sky"), css_paths=[CSS_PATH],
                footer_links=[], show_error=False, quiet=False, ssr_mode=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
