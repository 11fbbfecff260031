"""A stand-in for `trl vllm-serve` in CPU tests: an HTTP server on --host/--port that answers vLLM's /health route
(what `engine train` and TRL's client poll), and nothing else. It takes trl vllm-serve's other arguments and ignores
them. The test kills it to play a server that dies.

    --behaviour ready       /health answers 200 (the default)
    --behaviour starting    /health answers 503 for ever (a server still loading)
    --behaviour crash       prints an error line as vLLM logs one and exits with code 3 before listening
It writes its pid to --pid-file once it listens (or before crashing), so a test knows it is up.
"""

from __future__ import annotations

import argparse
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--behaviour", choices=("ready", "starting", "crash"), default="ready")
    parser.add_argument("--pid-file", required=True)
    args, _ = parser.parse_known_args()
    Path(args.pid_file).write_text(str(os.getpid()))
    print(f"stand-in vLLM server on {args.host}:{args.port}, CUDA_VISIBLE_DEVICES="
          f"{os.environ.get('CUDA_VISIBLE_DEVICES')}", flush=True)
    if args.behaviour == "crash":
        print("(APIServer pid=1) ERROR 01-01 00:00:00 [core.py:1] ValueError: stand-in model cannot be loaded",
              flush=True)
        return 3
    healthy = args.behaviour == "ready"

    class Health(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            status = 200 if self.path == "/health" and healthy else 503 if self.path == "/health" else 404
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    HTTPServer((args.host, args.port), Health).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
