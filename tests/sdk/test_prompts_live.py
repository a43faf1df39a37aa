"""``loop.prompt(...)`` of the Python SDK against a live server: fetch, render, the TTL cache with
ETag revalidation, a label move reaching the client, and the last good copy with the server down."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agentloop import AgentLoop, PromptNotFound, PromptRenderError, PromptUnavailable

from apps.experiments.models import Prompt
from apps.experiments.services.labels import prompt_label_move
from tests.factories.experiments import AUTHOR, WEATHER_TOOL, prompt_version
from tests.factories.projects import api_key_with_secret


class CountingProxy:
    """Forwards GETs to the live server and records (path, status, If-None-Match) of each; ``stop()``
    takes it down (connections are refused afterwards)."""

    def __init__(self, upstream: str) -> None:
        self.calls: list[tuple[str, int, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                headers = {name: self.headers[name] for name in ("Authorization", "If-None-Match", "Accept") if self.headers.get(name)}
                request = urllib.request.Request(upstream + self.path, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, body, etag = response.status, response.read(), response.headers.get("ETag", "")
                except urllib.error.HTTPError as error:
                    status, body, etag = error.code, error.read(), error.headers.get("ETag", "")
                proxy.calls.append((self.path, status, self.headers.get("If-None-Match", "")))
                self.send_response(status)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def seeded(project):
    for number in (1, 2, 3):
        version = prompt_version(project=project, template=f"v{number}: you are {{{{agent}}}}; answer {{{{question}}}}",
                                 tools=[WEATHER_TOOL] if number == 2 else None, message=f"v{number}")
    prompt_label_move(prompt=version.prompt, name="production", version=2, author=AUTHOR, role=None)
    return version.prompt


@pytest.fixture
def client_and_proxy(live_server, project):
    _, secret = api_key_with_secret(project=project)
    proxy = CountingProxy(live_server.url)
    loop = AgentLoop(api_key=secret, host=proxy.url, project_id=str(project.pk), enabled=True)
    yield loop, proxy
    loop.shutdown(timeout=2)
    try:
        proxy.stop()
    except OSError:
        pass


@pytest.mark.django_db(transaction=True)
def test_prompt_fetch_render_and_cache(client_and_proxy, seeded):
    loop, proxy = client_and_proxy

    prompt = loop.prompt("support-agent", label="production")
    again = loop.prompt("support-agent", label="production")
    by_version = loop.prompt("support-agent", version=3)

    assert (prompt.version, prompt.labels, prompt.reference, prompt.message) == (2, ["production"], "support-agent@2", "v2")
    assert prompt.variables == ["agent", "question"]
    assert prompt.tools == [WEATHER_TOOL]
    assert prompt.settings == {"model": "gpt-4o-mini", "temperature": 0.2}
    assert prompt.render(agent="Acme's bot", question="refund?") == "v2: you are Acme's bot; answer refund?"
    assert again is prompt
    assert by_version.version == 3
    assert [status for _, status, _ in proxy.calls] == [200, 200]
    with pytest.raises(PromptRenderError, match="question"):
        prompt.render(agent="x")


@pytest.mark.django_db(transaction=True)
def test_a_label_move_reaches_the_client_after_the_ttl_and_unchanged_is_a_304(client_and_proxy, seeded):
    loop, proxy = client_and_proxy
    first = loop.prompt("support-agent", label="production", ttl=0)

    unchanged = loop.prompt("support-agent", label="production", ttl=0)
    prompt_label_move(prompt=Prompt.objects.for_project(seeded.project).get(), name="production", version=3, author=AUTHOR, role=None)
    within_ttl = loop.prompt("support-agent", label="production", ttl=60)
    loop.prompt_ttl = 0
    moved = loop.prompt("support-agent", label="production")

    assert (first.version, unchanged is first, within_ttl.version, moved.version) == (2, True, 2, 3)
    assert [(status, bool(sent_etag)) for _, status, sent_etag in proxy.calls] == [(200, False), (304, True), (200, True)]


@pytest.mark.django_db(transaction=True)
def test_the_last_good_copy_is_served_with_the_server_down(client_and_proxy, seeded):
    loop, proxy = client_and_proxy
    loop.timeout = 2
    cached = loop.prompt("support-agent", label="production")
    errors = []
    loop.on_error = errors.append

    proxy.stop()
    served = loop.prompt("support-agent", label="production", ttl=0)

    assert served is cached
    assert [error.code for error in errors] == ["prompt_stale"]
    with pytest.raises(PromptUnavailable, match="not cached"):
        loop.prompt("support-agent", label="staging")


@pytest.mark.django_db(transaction=True)
def test_unknown_prompt_or_label_raises_not_found(client_and_proxy, seeded):
    loop, _ = client_and_proxy

    with pytest.raises(PromptNotFound) as missing_label:
        loop.prompt("support-agent", label="nope")
    with pytest.raises(PromptNotFound):
        loop.prompt("no-such-prompt")

    assert (missing_label.value.status, missing_label.value.code) == (404, "not_found")


@pytest.mark.django_db(transaction=True)
def test_many_threads_share_one_fetch(client_and_proxy, seeded):
    loop, proxy = client_and_proxy
    results = []

    threads = [threading.Thread(target=lambda: results.append(loop.prompt("support-agent").version)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [2] * 16
    assert len(proxy.calls) == 1
