"""Push an export to the Hugging Face Hub with huggingface_hub (HfApi.create_repo + upload_folder).

The upload is staged first: runs/<id>/hub-<what>/ holds hard links to the files (no copy of a large model) and the
model card, so `--dry-run` shows exactly what would go up. HF_ENDPOINT moves the Hub (huggingface_hub reads it).
Everything a user can get wrong -- no token, a malformed repo id, no network, a token the Hub refuses -- is one
sentence (PushError) that says what to change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import regex

# huggingface_hub's own rule for names (validate_repo_id), with the namespace made compulsory: pushing to a bare
# name would land under whatever account the token belongs to, which a user should choose, not discover.
_NAME = r"(?!.*(?:--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9])?"
REPO_ID = regex.compile(rf"{_NAME}/{_NAME}")
TOKENS_PAGE = "https://huggingface.co/settings/tokens"
OFFLINE = "offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set), so nothing can be pushed; unset it"


class PushError(Exception):
    """A sentence for the user."""


def repo_id_problem(repo_id: str) -> str | None:
    if not REPO_ID.fullmatch(repo_id or ""):
        return (f"'{repo_id}' is not a Hub repo id: write ORG/NAME, e.g. my-name/qwen-grpo-math (letters, digits, "
                "'-', '_' and '.', at most 96 each)")
    return None


def token_problem() -> str | None:
    from huggingface_hub import constants, get_token

    if constants.is_offline_mode():
        return OFFLINE
    if not get_token():
        return (f"pushing needs a Hugging Face token with write access: create one at {TOKENS_PAGE} and set "
                "HF_TOKEN=hf_... (or run `hf auth login`), then run the command again")
    return None


def stage(folder: Path, files: list[tuple[Path, str]], card_folder: Path) -> Path:
    """folder/ with each (local file, path in repo) hard-linked in (copied across file systems), plus the card."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for source, name in files + [(p, p.name) for p in sorted(card_folder.iterdir()) if p.is_file()]:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return folder


def push_folder(folder: Path, repo_id: str, private: bool, message: str) -> str:
    """Create the repo if needed and upload the folder as one commit; returns the repo's URL."""
    import httpx
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=message, repo_type="model")
    except OfflineModeIsEnabled:
        raise PushError(OFFLINE) from None
    except HfHubHTTPError as error:
        raise PushError(_http_sentence(error, repo_id, api.endpoint)) from None
    except (httpx.TransportError, OSError) as error:
        if isinstance(error, OSError) and not _is_network_error(error):
            raise
        raise PushError(f"could not reach the Hub at {api.endpoint} ({type(error).__name__}); check the network "
                        "connection and run the command again") from None
    return str(url)


def _is_network_error(error: OSError) -> bool:
    return isinstance(error, (ConnectionError, TimeoutError)) or "connect" in str(error).lower()


def _http_sentence(error, repo_id: str, endpoint: str) -> str:
    status = getattr(error.response, "status_code", None)
    namespace = repo_id.split("/")[0]
    if status == 401:
        return f"the Hub refused the token (401 Unauthorized); check HF_TOKEN (tokens: {TOKENS_PAGE})"
    if status == 403:
        return (f"the token may not write to '{namespace}' (403 Forbidden); use a token with write access to that "
                "user or organisation")
    if status == 404:
        return f"the Hub has no namespace '{namespace}' that this token can use (404 Not Found); check ORG in ORG/NAME"
    server = (getattr(error, "server_message", None) or str(error)).strip().splitlines()[0]
    return f"the Hub at {endpoint} answered {status}: {server}"
