"""A local stand-in for the Hugging Face Hub's HTTP API: the endpoints huggingface_hub 1.x calls for
HfApi.create_repo + upload_folder (read from its hf_api.py, _commit_api.py and utils/_detect_agent.py):

    POST /api/repos/create                               {"name", "organization", "visibility", "type"} -> {"url"}
    POST /api/validate-yaml                              {"content": README.md, "repoType"} -> errors, warnings
    POST /api/models/{org}/{name}/preupload/{revision}   {"files": [{"path", "sample", "size"}]} -> upload modes
    POST /api/models/{org}/{name}/commit/{revision}      ndjson: a header line, then one line per file
    GET  /api/agent-harnesses                            (huggingface_hub's optional registry; answered 404)

Every file is answered "regular" at preupload, so the content arrives base64-encoded in the commit itself (the real
Hub sends large files through LFS/Xet instead; that transfer is huggingface_hub's own, not ours). Requests without
the expected bearer token get 401, as the Hub answers a bad token.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

TOKEN = "hf_standin_token_for_tests"


class StandinHub:
    def __init__(self):
        self.repos: dict[str, dict] = {}  # repo id -> {"private": bool, "files": {path: bytes}, "commits": [...]}
        self.validated: list[str] = []  # README.md texts sent to validate-yaml
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                return self._reply(404, {"error": f"no such endpoint {self.path}"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(401, {"error": "Invalid credentials in Authorization header"})
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:3] == ["api", "repos", "create"]:
                    request = json.loads(body)
                    repo_id = f"{request['organization']}/{request['name']}"
                    if repo_id in hub.repos:
                        return self._reply(409, {"error": "You already created this model repo"})
                    hub.repos[repo_id] = {"private": request.get("visibility") == "private", "files": {},
                                          "commits": []}
                    return self._reply(200, {"url": f"{hub.url}/{repo_id}"})
                if parts[:2] == ["api", "validate-yaml"]:
                    return self._validate(json.loads(body)["content"])
                if len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] in ("preupload", "commit"):
                    repo_id = f"{parts[2]}/{parts[3]}"
                    if repo_id not in hub.repos:
                        return self._reply(404, {"error": "Repository not found"})
                    if parts[4] == "preupload":
                        files = json.loads(body)["files"]
                        return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                            "shouldIgnore": False, "oid": None} for f in files]})
                    return self._commit(repo_id, body)
                return self._reply(404, {"error": f"no such endpoint {self.path}"})

            def _validate(self, readme: str):
                """As the Hub checks a model card: YAML front matter between '---' lines that parses to a mapping."""
                hub.validated.append(readme)
                parts = readme.split("---", 2)
                try:
                    front = yaml.safe_load(parts[1]) if readme.startswith("---") and len(parts) == 3 else None
                except yaml.YAMLError as error:
                    return self._reply(400, {"errors": [{"message": f"invalid YAML: {error}"}]})
                if not isinstance(front, dict):
                    return self._reply(400, {"errors": [{"message": "no YAML metadata block"}]})
                return self._reply(200, {"errors": [], "warnings": []})

            def _commit(self, repo_id: str, body: bytes):
                repo = hub.repos[repo_id]
                lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                for line in lines:
                    if line["key"] == "header":
                        repo["commits"].append(line["value"]["summary"])
                    elif line["key"] == "file":
                        value = line["value"]
                        assert value["encoding"] == "base64"
                        repo["files"][value["path"]] = base64.b64decode(value["content"])
                oid = f"{len(repo['commits']):040d}"
                return self._reply(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{oid}", "commitOid": oid,
                                         "pullRequestUrl": None})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
