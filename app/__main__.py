"""`python -m app` (or `grpo-studio`): serve the UI.

Environment: GRPO_STUDIO_HOST (default 127.0.0.1), GRPO_STUDIO_PORT (7860), GRPO_STUDIO_PASSWORD (set: a login is
required, user GRPO_STUDIO_USER, default admin; unset on an address beyond loopback: a password is made once and
printed on every start, see app/login.py), GRPO_STUDIO_HOST_PORT (the host's port in a container, for the address the
log names), GRPO_STUDIO_CPU_DEMO=1 (the Docker preflight found no usable GPU: show the CPU demo
banner), GRPO_STUDIO_STOP_RUNS_ON_EXIT=1 (the Docker image: on SIGTERM, stop the running training and wait for it to
save before exiting; elsewhere runs outlive the app). --host and --port override the environment.

The app is served by uvicorn with Gradio mounted on a FastAPI app (gr.mount_gradio_app) rather than by
`Blocks.launch`: launch() probes its own page with a 3-second timeout and refuses to start when a busy machine
answers later ("When localhost is not accessible, a shareable link must be created"); mounting has no such probe.
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


def url_to_open(host: str, port: int) -> str:
    """The address the user types into a browser: 0.0.0.0 (or ::) is where the app listens, not an address to open;
    in a container the port is the host's (GRPO_STUDIO_HOST_PORT, which docker-compose.yml passes in)."""
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "localhost"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{os.environ.get('GRPO_STUDIO_HOST_PORT') or port}"


def served_paths() -> list[str]:
    """What Gradio may serve and hand to downloads besides its own upload cache: the run folders (logs, adapter
    zips, configs) and the uploads folder. Nothing else on the machine."""
    from engine import settings

    return [str(settings.runs_dir().resolve()), str(settings.uploads_dir().resolve())]


def build_server(auth: tuple[str, str] | None):
    """The FastAPI app with the Gradio UI mounted at /."""
    import gradio as gr
    from fastapi import FastAPI

    from app.login_gate import LoginGate
    from app.ui import CSS_PATH, build_ui
    from app.uploads import MAX_UPLOAD_TEXT

    demo = build_ui()
    demo.queue(default_concurrency_limit=4)
    # Files in the runs folder are served as they are, not hashed and copied into Gradio's cache each time a download
    # button shows them: a merged model's zip or a GGUF is gigabytes. They were allowed paths already (served_paths).
    gr.set_static_paths([served_paths()[0]])
    # Gradio embeds a description of every public endpoint, with each input's default value (the sample's path,
    # run ids), in the page it serves to anyone, the login page included. The UI calls its events by number and
    # needs none of it; a private endpoint is left out.
    for fn in demo.fns.values():
        fn.api_visibility = "private"
    no_docs = {"docs_url": None, "redoc_url": None, "openapi_url": None}  # FastAPI's pages need no login
    # Gradio's run history (its /gradio_api/runs page, and routes that save calls to a Hub bucket with the server's
    # token) is a feature the product does not use: off, routes and all.
    server = gr.mount_gradio_app(
        FastAPI(**no_docs), demo, path="", app_kwargs=no_docs, auth=auth, run_history=False,
        auth_message="GRPO Studio: sign in with the user and password set in GRPO_STUDIO_USER / "
                     "GRPO_STUDIO_PASSWORD, or the ones the app printed when it first started.",
        max_file_size=MAX_UPLOAD_TEXT.replace(" ", "").lower(), allowed_paths=served_paths(),
        theme=gr.themes.Soft(primary_hue="indigo", secondary_hue="sky"), css_paths=[CSS_PATH],
        footer_links=[], show_error=False, ssr_mode=False)
    # Gradio checks that a file named in an event's input was uploaded through it only once the app counts as
    # launched; launch() sets this, mounting does not.
    demo.has_launched = True
    if auth is not None:
        (gradio_app,) = [r.app for r in server.routes if isinstance(getattr(r, "app", None), gr.routes.App)]
        server.add_middleware(LoginGate, gradio_app=gradio_app)
    return server


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # an appliance: no calls home
    from app.machine import hide_gpu_in_cpu_demo

    hide_gpu_in_cpu_demo()  # before anything reads the GPU; the training subprocesses inherit it
    from engine.rewards.python_function import forbid_user_code

    forbid_user_code()  # the web never runs user Python: a second lock behind the form's refusal (app.form_state)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from app import log_noise

    log_noise.install()

    import uvicorn

    from engine import settings

    from app.login import LoginError, resolve_login

    try:
        auth = resolve_login(arguments.host)
    except LoginError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for folder in (settings.runs_dir(), settings.uploads_dir()):
        folder.mkdir(parents=True, exist_ok=True)
    server = build_server(auth)
    from app import runner, tensorboard_server

    tensorboard_server.configure(arguments.host, auth)  # TensorBoard, when started, listens here under this login
    runner.watch_queue()  # queued runs start even when no page is open
    stop_runs_on_exit = os.environ.get("GRPO_STUDIO_STOP_RUNS_ON_EXIT") == "1"
    if stop_runs_on_exit:
        # uvicorn handles SIGTERM (it closes the server) and then raises it again under the handler it found: this
        # one, so that the process lives on to stop the run below instead of dying in the default handler.
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
    print(f"GRPO Studio on {url_to_open(arguments.host, arguments.port)}", flush=True)
    # A short graceful shutdown: open event streams would otherwise hold a SIGTERM for a long time.
    uvicorn.run(server, host=arguments.host, port=arguments.port, log_level="warning", timeout_graceful_shutdown=3)
    if stop_runs_on_exit:
        stop_active_run()
    return 0


def stop_active_run() -> None:
    """In a container, SIGTERM (`docker stop`, forwarded by tini) precedes the end of every process in it: stop the
    active run gracefully (checkpoint and adapter saved) before the app exits. Queued runs wait for the next start.
    """
    from engine import settings
    from engine.runs import queue as run_queue

    from app import runner, strings

    run_queue.hold(settings.runs_dir())  # the run stopped now must not start the next one in a dying container
    run = runner.active_run()
    if run is not None:
        print(strings.STOPPING_RUN_ON_EXIT.format(id=run.id), flush=True)
        runner.stop_and_wait(run)


if __name__ == "__main__":
    sys.exit(main())
