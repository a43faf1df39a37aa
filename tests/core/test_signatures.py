"""Signed calls to customer endpoints: the header a receiver verifies, retries, and refusals."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from apps.core import signatures


def test_a_signature_verifies_and_a_changed_body_or_secret_does_not():
    header = signatures.sign("whsec_1", b'{"a": 1}', timestamp=1_700_000_000)

    assert header.startswith("t=1700000000,v1=")
    assert signatures.verify("whsec_1", b'{"a": 1}', header, now=1_700_000_010)
    assert not signatures.verify("whsec_1", b'{"a": 2}', header, now=1_700_000_010)
    assert not signatures.verify("whsec_2", b'{"a": 1}', header, now=1_700_000_010)


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1700000000", "garbage"])
def test_malformed_headers_do_not_verify(header):
    assert not signatures.verify("s", b"{}", header, now=1_700_000_000)


def test_an_old_timestamp_is_a_replay():
    header = signatures.sign("s", b"{}", timestamp=1_700_000_000)

    assert not signatures.verify("s", b"{}", header, now=1_700_000_000 + 301)


@pytest.mark.parametrize("url, reason", [
    ("http://example.com/run", "https"),
    ("https://127.0.0.1/run", "non-public"),
    ("https://10.1.2.3/run", "non-public"),
    ("https://169.254.169.254/latest", "non-public"),
    ("https://[::1]/run", "non-public"),
    ("https://user:pw@example.com/run", "credentials"),
    ("https:///run", "no host"),
])
def test_endpoints_that_would_probe_the_workers_network_are_refused(settings, url, reason):
    settings.ALLOW_PRIVATE_ENDPOINTS = False

    with pytest.raises(signatures.EndpointRefused, match=reason):
        signatures.check_endpoint(url)


class _Receiver(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    seen: list[tuple[bytes, str, bool]] = []
    delay = 0.0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        header = self.headers.get(signatures.SIGNATURE_HEADER, "")
        type(self).seen.append((body, header, signatures.verify("topsecret", body, header)))
        time.sleep(type(self).delay)
        status = type(self).answers.pop(0) if type(self).answers else 200
        try:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(json.dumps({"output": "hello"}).encode())
        except BrokenPipeError:
            pass  # the caller gave up (the timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.ALLOW_PRIVATE_ENDPOINTS = True
    _Receiver.answers, _Receiver.seen, _Receiver.delay = [], [], 0.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/run"
    server.shutdown()


def test_the_receiver_verifies_the_signed_request(receiver):
    response = signatures.post_signed(receiver, b'{"case": 1}', secret="topsecret")

    assert (response.status, json.loads(response.body), response.attempts) == (200, {"output": "hello"}, 1)
    assert [(body, ok) for body, _, ok in _Receiver.seen] == [(b'{"case": 1}', True)]


def test_5xx_and_429_are_retried_with_backoff_then_succeed(receiver):
    _Receiver.answers = [503, 429]

    response = signatures.post_signed(receiver, b"{}", secret="topsecret", backoff=0.01)

    assert (response.status, response.attempts) == (200, 3)
    assert all(ok for _, _, ok in _Receiver.seen)


def test_other_4xx_are_not_retried(receiver):
    _Receiver.answers = [400]

    response = signatures.post_signed(receiver, b"{}", secret="topsecret", backoff=0.01)

    assert (response.status, response.attempts, len(_Receiver.seen)) == (400, 1, 1)


def test_a_slow_endpoint_times_out_and_fails_after_its_attempts(receiver):
    _Receiver.delay = 0.5

    with pytest.raises(signatures.EndpointFailed, match="no answer within 0.1 s") as failure:
        signatures.post_signed(receiver, b"{}", secret="topsecret", timeout=0.1, attempts=2, backoff=0.01)

    assert failure.value.attempts == 2
