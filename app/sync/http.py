"""A polite HTTP client: a fixed pause between requests, the server's Retry-After
obeyed, and retries with exponential backoff on network errors and 5xx answers."""

import time
from collections.abc import Callable

import httpx


USER_AGENT = "papers-catalogue-sync/0.1"
BACKOFF_BASE = 2.0  # seconds before the first retry; doubled each time


class SyncError(Exception):
    """The source could not be read; the message says why, for the user. `status`: the HTTP status
    the server answered with, when it answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Polite:
    def __init__(self, *, pause: float, retries: int, max_wait: float, timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, client: httpx.Client | None = None):
        self.pause = pause
        self.retries = retries
        self.max_wait = max_wait
        self.sleep = sleep
        self.client = client or httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT},
                                             follow_redirects=True)
        self.requests = 0
        self.waited = 0.0
        self._last: float | None = None

    def close(self) -> None:
        self.client.close()

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited += seconds
            self.sleep(seconds)

    def get(self, url: str, params: dict | None = None) -> httpx.Response:
        """The 200 answer to GET url, or SyncError once the retries are spent."""
        attempt = 0
        while True:
            if self._last is not None:  # the fixed pause, counted from the previous request
                self._wait(self.pause - (time.monotonic() - self._last))
            self.requests += 1
            try:
                response = self.client.get(url, params=params)
            except httpx.TransportError as exc:
                self._last = time.monotonic()
                attempt += 1
                if attempt > self.retries:
                    raise SyncError(f"{url}: {exc.__class__.__name__}: {exc} (gave up after {self.retries} retries)")
                self._wait(min(BACKOFF_BASE * 2 ** (attempt - 1), self.max_wait))
                continue
            self._last = time.monotonic()
            if response.status_code == 200:
                return response
            retry_after = _retry_after(response)
            if response.status_code in (429, 503) and retry_after is not None:
                # The service asked for a delay: obey it (within reason); it does not use up a retry
                # unless it keeps asking.
                if retry_after > self.max_wait:
                    raise SyncError(f"{url}: the server asks to wait {retry_after:.0f} s, more than "
                                    f"{self.max_wait:.0f} s; run again later")
                attempt += 1
                if attempt > self.retries * 4:
                    raise SyncError(f"{url}: still {response.status_code} after {attempt - 1} waits")
                self._wait(retry_after)
                continue
            if response.status_code >= 500 or response.status_code == 429:
                attempt += 1
                if attempt <= self.retries:
                    self._wait(min(BACKOFF_BASE * 2 ** (attempt - 1), self.max_wait))
                    continue
            raise SyncError(f"{url}: HTTP {response.status_code} {response.reason_phrase}{_said(response)}",
                            status=response.status_code)


def _said(response: httpx.Response) -> str:
    """What a JSON error answer says ({"error": ...}), for the message; else nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    said = body.get("error") or body.get("message") if isinstance(body, dict) else None
    return f": {str(said)[:200]}" if said else ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        from email.utils import parsedate_to_datetime
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return None
