"""One login check in front of every HTTP route, when the app has a login.

Gradio checks its login route by route (a `login_check` dependency), and routes without one answer anyone: in 6.31
its run-history routes (which, for a request from 127.0.0.1, called the Hub with the server's HF_TOKEN), heartbeat,
cancel, reset and more. This gate does not depend on Gradio remembering: a request without a signed-in session gets
401, whatever its address, except what the login page itself needs (the page, its scripts, styles and fonts, and the
login form). Sign-in attempts are limited per client (app/login_limit.py); a client that must wait gets 429 and one
sentence that says how long, on the login form's answer and on the page.

Signed in means Gradio's own session cookie names one of Gradio's session tokens (gradio.routes.App's `cookie_id`
and `tokens`, set by its /login).
"""

from __future__ import annotations

import json

from starlette.requests import HTTPConnection

from app.login_limit import LoginLimiter, wait_sentence

LOGIN_PATHS = ("/login", "/login/")
PUBLIC_PATHS = ("/", "/theme.css", "/favicon.ico")
PUBLIC_PREFIXES = ("/assets/", "/static/")  # Gradio's built front end and its fonts: the same files for everyone
NOT_SIGNED_IN = "Sign in first: open the app's address in a browser and sign in."


class LoginGate:
    """ASGI middleware; `gradio_app` is the mounted gradio.routes.App whose sessions count as signed in."""

    def __init__(self, app, gradio_app, limiter: LoginLimiter | None = None):
        self.app, self.gradio_app = app, gradio_app
        self.limiter = limiter or LoginLimiter()

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        client = scope["client"][0] if scope.get("client") else "unknown"
        method, path = scope.get("method"), scope["path"]
        if method == "POST" and path in LOGIN_PATHS:  # signed in or not: every guess counts
            return await self._sign_in(client, scope, receive, send)
        if self._signed_in(HTTPConnection(scope)):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        if method in ("GET", "HEAD") and (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)):
            wait = self.limiter.wait_s(client) if path == "/" else 0
            if wait:  # the login form shows nothing for a 429 of its own; a reload of the page says it
                return await _answer(send, 429, wait_sentence(wait), {"Retry-After": str(wait)}, html=True)
            return await self.app(scope, receive, send)
        return await _answer(send, 401, NOT_SIGNED_IN)

    def _signed_in(self, connection: HTTPConnection) -> bool:
        cookie_id, tokens = self.gradio_app.cookie_id, self.gradio_app.tokens
        token = (connection.cookies.get(f"access-token-{cookie_id}")
                 or connection.cookies.get(f"access-token-unsecure-{cookie_id}"))
        return token is not None and token in tokens

    async def _sign_in(self, client: str, scope, receive, send):
        wait = self.limiter.wait_s(client)
        if wait:
            return await _answer(send, 429, wait_sentence(wait), {"Retry-After": str(wait)})

        async def counted(message):
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    self.limiter.succeeded(client)
                else:  # 400 wrong password, 422 a form without one
                    self.limiter.failed(client)
            await send(message)

        return await self.app(scope, receive, counted)


async def _answer(send, status: int, sentence: str, headers: dict[str, str] | None = None, html: bool = False):
    if html:
        body, kind = f"<!doctype html><title>GRPO Studio</title><p>{sentence}</p>".encode(), "text/html"
    else:
        body, kind = json.dumps({"detail": sentence}).encode(), "application/json"
    raw = [(b"content-type", f"{kind}; charset=utf-8".encode()), (b"content-length", str(len(body)).encode())]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
