"""The one outbound HTTP client: timeouts, retries on connect errors and user agent set once."""

import httpx

USER_AGENT = "Relais/0.1 (+https://github.com/relais-desk/relais)"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def client(**kwargs) -> httpx.Client:
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    kwargs.setdefault("headers", {"User-Agent": USER_AGENT})
    kwargs.setdefault("transport", httpx.HTTPTransport(retries=2))
    return httpx.Client(**kwargs)
