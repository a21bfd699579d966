"""The crawler's only way onto the web: fetching a URL without being turned against our own network.

Server-side request forgery (OWASP API7): an owner chooses the URLs, so every hop is checked where it
matters, on the address actually connected to. A host name is resolved once (`Resolver`), every address it
resolves to must be public (not private, loopback, link-local, the cloud metadata address, multicast,
reserved, nor an IPv4 one spelled as IPv6), and the request goes to that very address with the original
Host header and TLS server name: no second lookup, so no DNS-rebinding window. Redirects are followed by
hand, each hop checked again. Only http and https; the content type must be one the caller accepts and the
body is cut off past WEB_FETCH_MAX_BYTES (counted after decompression). One pooled `httpx.Client` per
process, with explicit timeouts, a whole-fetch deadline, and no proxy taken from the environment.

WEB_FETCH_ALLOW_LOOPBACK (test suites only; settings refuse it on a public host name) lets it reach
127.0.0.0/8 and ::1, where the suites serve their fixture sites.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin

import httpx
from django.conf import settings

USER_AGENT = "ChatSphereBot/1.0"
HTML_TYPES = ("text/html", "application/xhtml+xml")
ROBOTS_TYPES = ("text/plain",)
SITEMAP_TYPES = ("application/xml", "text/xml", "text/plain")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Cloud metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254; AWS's IPv6 one): link-local
# already, named for a clearer refusal.
_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class FetchError(Exception):
    """The URL could not be fetched; the message is for the owner of the source."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FetchRefusedError(FetchError):
    """The URL or an address it leads to is one the crawler never fetches."""


class PageGoneError(FetchError):
    """The server says the page does not exist (404, 410)."""


@dataclass(frozen=True)
class FetchedPage:
    url: str  # after redirects
    content_type: str
    body: bytes


class Resolver(Protocol):
    def resolve(self, *, host: str, port: int) -> Sequence[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo); also reads numeric forms such as 2130706433."""

    def resolve(self, *, host: str, port: int) -> Sequence[IPAddress]:
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError(f"The host name {host} could not be resolved.") from exc
        return [ipaddress.ip_address(str(answer[4][0]).split("%", 1)[0]) for answer in answers]


class StaticResolver:
    """Fixed answers, for tests: a name that resolves to a private address, or to another one each time."""

    def __init__(self, answers: Mapping[str, Sequence[str] | Iterable[Sequence[str]]]) -> None:
        self._answers = {host: iter(list(values)) for host, values in answers.items()}
        self.lookups: list[str] = []

    def resolve(self, *, host: str, port: int) -> Sequence[IPAddress]:
        self.lookups.append(host)
        if host not in self._answers:
            raise FetchError(f"The host name {host} could not be resolved.")
        addresses = next(self._answers[host])
        return [ipaddress.ip_address(address) for address in addresses]


def address_refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why the crawler never connects to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            return address_refusal(embedded, allow_loopback=allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_multicast:
        return "a reserved address"
    return None


class SafeFetcher:
    """GETs public http(s) URLs through one pooled client; see the module's docstring for the checks."""

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        allow_loopback: bool = False,
        connect_timeout_s: float = 5.0,
        timeout_s: float = 15.0,
        max_bytes: int = 5 * 1024 * 1024,
        max_redirects: int = 5,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """`verify`: how TLS certificates are checked (tests pass a context trusting their own CA)."""
        self._resolver = resolver or SystemResolver()
        self._allow_loopback = allow_loopback
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            follow_redirects=False,
            trust_env=False,  # an HTTP(S)_PROXY would make the proxy, not the checked address, the peer
            verify=verify,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, *, accept: Sequence[str]) -> FetchedPage:
        """The body of `url` (after at most max_redirects checked redirects), of one of the `accept` types."""
        deadline = time.monotonic() + self._timeout_s
        for _hop in range(self._max_redirects + 1):
            target = self._checked_url(url)
            request = self._client.build_request(
                "GET",
                self._pinned_url(target),
                headers={"Host": target.netloc.decode("ascii"), "Accept": ", ".join(accept)},
                extensions={"sni_hostname": target.host} if target.scheme == "https" else None,
            )
            try:
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchError(f"{url} did not answer in time.") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"{url} could not be reached.") from exc
            try:
                if response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                    continue
                return self._read(url, response, accept=accept, deadline=deadline)
            finally:
                response.close()
        raise FetchError(f"{url} redirects more than {self._max_redirects} times (a redirect loop?).")

    def _checked_url(self, url: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchRefusedError(f"{url} is not a valid URL.") from exc
        if target.scheme not in ("http", "https"):
            raise FetchRefusedError(f"Only http and https addresses are fetched, not {target.scheme or url}.")
        if not target.host:
            raise FetchRefusedError(f"{url} names no host.")
        return target

    def _pinned_url(self, target: httpx.URL) -> httpx.URL:
        """`target` with its host replaced by the one address it resolved to, once that address passed."""
        port = target.port or (443 if target.scheme == "https" else 80)
        addresses = self._resolver.resolve(host=target.host, port=port)
        if not addresses:
            raise FetchError(f"The host name {target.host} could not be resolved.")
        for address in addresses:
            refusal = address_refusal(address, allow_loopback=self._allow_loopback)
            if refusal is not None:
                raise FetchRefusedError(f"{target.host} leads to {refusal} ({address}); it is never fetched.")
        return target.copy_with(host=str(addresses[0]))

    def _read(
        self, url: str, response: httpx.Response, *, accept: Sequence[str], deadline: float
    ) -> FetchedPage:
        if response.status_code in (404, 410):
            raise PageGoneError(f"{url} answered {response.status_code}: the page does not exist.")
        if not response.is_success:
            raise FetchError(f"{url} answered {response.status_code}.")
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type not in accept:
            raise FetchRefusedError(
                f"{url} is {content_type or 'of no stated type'}, not {' or '.join(accept)}."
            )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FetchRefusedError(f"{url} is {declared} bytes; the limit is {self._max_bytes} bytes.")
        body = bytearray()
        try:
            for block in response.iter_bytes():
                body += block
                if len(body) > self._max_bytes:
                    raise FetchRefusedError(f"{url} is larger than the limit of {self._max_bytes} bytes.")
                if time.monotonic() > deadline:
                    raise FetchError(f"{url} did not finish in {self._timeout_s:g} s.")
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url} did not answer in time.") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url} broke off while answering.") from exc
        return FetchedPage(url=url, content_type=content_type, body=bytes(body))


_fetcher: SafeFetcher | None = None
_fetcher_lock = threading.Lock()


def build_fetcher_from_settings() -> SafeFetcher:
    return SafeFetcher(
        allow_loopback=settings.WEB_FETCH_ALLOW_LOOPBACK,
        connect_timeout_s=settings.WEB_FETCH_CONNECT_TIMEOUT_SECONDS,
        timeout_s=settings.WEB_FETCH_TIMEOUT_SECONDS,
        max_bytes=settings.WEB_FETCH_MAX_BYTES,
        max_redirects=settings.WEB_FETCH_MAX_REDIRECTS,
    )


def get_fetcher() -> SafeFetcher:
    """The process-wide fetcher (one connection pool), built from settings on first use."""
    global _fetcher
    with _fetcher_lock:
        if _fetcher is None:
            _fetcher = build_fetcher_from_settings()
        return _fetcher


def set_fetcher(fetcher: SafeFetcher | None) -> None:
    """Swap the process-wide fetcher (tests); None builds it from settings again on next use."""
    global _fetcher
    with _fetcher_lock:
        _fetcher = fetcher
