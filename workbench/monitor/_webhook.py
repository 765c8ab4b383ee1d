"""Alerts to a webhook: a JSON POST from a small background sender, so ``observe`` never
waits on the network.

One daemon thread per URL takes payloads from a bounded queue and posts each with a timeout,
retrying connection failures, timeouts, 429 and 5xx with backoff. A full queue drops its
oldest payload (counted and logged). Nothing but ``Content-Type`` and ``User-Agent`` goes in
the headers, no proxy sits between the sender and a loopback receiver, redirects are not
followed (the payload never travels to a host the user did not name), and every string of
the payload is scrubbed of the secrets known when it is sent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._version import __version__
from ..errors import ConfigError
from ..secrets import known_secrets, redact

__all__ = ["WebhookSender", "check_url", "safe_url", "scrub"]

log = logging.getLogger("workbench.monitor")

_LOOPBACK = ("127.", "localhost", "::1", "[::1]")


def check_url(url: str) -> str:
    """``url`` when it can receive alerts: ``http(s)://host[:port]/path``, with no user name or
    password in it.

    Raises:
        ConfigError: another scheme, no host, or credentials in the URL.

    Example:
        >>> check_url("http://127.0.0.1:9000/hook")
        'http://127.0.0.1:9000/hook'
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"webhook {safe_url(url)!r} is not an http:// or https:// URL with a host; write e.g. "
            "'https://hooks.example.com/alerts'"
        )
    if parts.username or parts.password:
        raise ConfigError(
            f"webhook {safe_url(url)!r} holds a user name or password: workbench never sends "
            "credentials to a webhook. Use a URL whose path carries the receiver's token, as "
            "incoming-webhook URLs do."
        )
    return url


def safe_url(url: str) -> str:
    """``url`` fit for a log line: scheme, host, port and path; no query, no user info.

    Example:
        >>> safe_url("https://user:pw@hooks.example.com/T01/abc?token=xyz")
        'https://hooks.example.com/T01/abc'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (JSON data) with every secret in its strings replaced by ``[redacted]``.

    Example:
        >>> scrub({"message": "key sk-12345678 leaked", "n": 2}, ["sk-12345678"])
        {'message': 'key [redacted] leaked', 'n': 2}
    """
    found = list(secrets)
    if isinstance(value, str):
        return redact(value, found)
    if isinstance(value, Mapping):
        return {scrub(str(k), found): scrub(v, found) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, found) for v in value]
    return value


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer, not a new destination for the payload


@dataclass
class _Counts:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    dropped: int = 0


class WebhookSender:
    """Posts JSON payloads to one URL from a background thread.

    Args:
        url: the receiver (checked by :func:`check_url`).
        secrets: values never to send, besides the credential-like environment variables.
        timeout_s: per attempt.
        attempts: how many times one payload is tried.
        backoff_s: the pause before the second attempt, doubled before each next one.
        max_queue: payloads waiting at most; a full queue drops its oldest.

    Example:
        >>> sender = WebhookSender("http://127.0.0.1:9/hook", attempts=1, timeout_s=0.5)
        >>> sender.stats()
        {'sent': 0, 'failed': 0, 'retried': 0, 'dropped': 0, 'queued': 0}
        >>> sender.close()
        True
    """

    def __init__(
        self,
        url: str,
        *,
        secrets: Iterable[str] = (),
        timeout_s: float = 5.0,
        attempts: int = 4,
        backoff_s: float = 0.5,
        max_queue: int = 1000,
    ) -> None:
        self.url = check_url(url)
        self._secrets = [s for s in secrets if s]
        self._timeout_s, self._attempts, self._backoff_s = timeout_s, max(1, attempts), backoff_s
        self._max_queue = max_queue
        self._queue: deque[dict[str, Any]] = deque()
        self._busy = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._counts = _Counts()
        self._dropping = False
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        host = urlsplit(url).hostname or ""
        if host.startswith(_LOOPBACK) or host in _LOOPBACK:
            handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our loopback
        self._opener = urllib.request.build_opener(*handlers)

    def send(self, payload: dict[str, Any]) -> None:
        """Queue ``payload`` and return at once."""
        with self._cond:
            if self._closed:
                return
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self._counts.dropped += 1
                if not self._dropping:
                    log.warning(
                        "webhook %s is not keeping up: %d alerts are waiting; dropping the oldest",
                        safe_url(self.url),
                        self._max_queue,
                    )
                self._dropping = True
            else:
                self._dropping = False
            self._queue.append(payload)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="workbench-webhook", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued payload was sent or given up; ``False`` if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float | None = 10.0) -> bool:
        """Send what is queued (waiting up to ``timeout``), then stop the thread; what is still
        queued then is dropped and counted. Returns whether everything was sent or given up."""
        done = self.flush(timeout)
        with self._cond:
            self._closed = True
            self._counts.dropped += len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=0 if not done else self._timeout_s)
        return done

    def stats(self) -> dict[str, int]:
        """Counts: sent, failed (given up), retried (attempts after a first), dropped, queued."""
        with self._cond:
            c = self._counts
            return {"sent": c.sent, "failed": c.failed, "retried": c.retried, "dropped": c.dropped} | {
                "queued": len(self._queue) + self._busy
            }

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                payload = self._queue.popleft()
                self._busy = 1
            try:
                ok = self._deliver(payload)
            except Exception:  # the sender thread must outlive any one payload
                log.exception("webhook %s: sending an alert failed", safe_url(self.url))
                ok = False
            with self._cond:
                self._busy = 0
                if ok:
                    self._counts.sent += 1
                else:
                    self._counts.failed += 1
                self._cond.notify_all()

    def _deliver(self, payload: dict[str, Any]) -> bool:
        # secrets read now, not at start: a key set later in the environment is scrubbed too
        body = json.dumps(scrub(payload, known_secrets(None) + self._secrets), allow_nan=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"workbench/{__version__}"}
        problem = ""
        for attempt in range(self._attempts):
            if attempt:
                with self._cond:
                    self._counts.retried += 1
                    if self._closed:
                        break
                time.sleep(self._backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with self._opener.open(request, timeout=self._timeout_s) as response:
                    response.read()
                    if 200 <= response.status < 300:
                        return True
                    problem = f"HTTP {response.status}"
            except urllib.error.HTTPError as e:
                problem = f"HTTP {e.code}"
                if e.code != 429 and e.code < 500:
                    break  # the receiver refuses this payload: sending it again changes nothing
            except (urllib.error.URLError, OSError) as e:
                problem = str(getattr(e, "reason", e))
        log.warning(
            "webhook %s did not take alert %s (%s) after %s: %s",
            safe_url(self.url),
            payload.get("id"),
            payload.get("rule"),
            "1 attempt" if attempt == 0 else f"{attempt + 1} attempts",
            redact(problem, self._secrets),
        )
        return False
