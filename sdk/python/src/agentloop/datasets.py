"""Eval datasets over the key routes (``/api/v1/datasets…``): read a version's cases, add cases.

Unlike logging, these calls are synchronous and explicit (a CI job or an eval script waits for
them), so a failure raises ``AgentLoopError`` with the server's stable ``code`` (``not_found``,
``duplicate_name``, ``dataset_archived``, ``invalid``, …) and the HTTP ``status``.

    ds = loop.dataset("Refund failures")          # the latest version; version=3 pins one
    ds.version, ds.cases_count
    for case in ds:                                # follows the cursor, one page at a time
        case["input"], case["expected_output"], case["lineage"]["turn_id"]
    loop.add_cases("Refund failures", [{"turn_id": turn.id, "split": "regression"},
                                       {"input": "…", "expected_output": "…"}], message="from CI")
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from agentloop.errors import AgentLoopError

PAGE_SIZE = 200


def _request(client: Any, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {client._api_key}", "Accept": "application/json",
               "User-Agent": client._headers["User-Agent"]}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    url = path if path.startswith(("http://", "https://")) else client.host + path
    try:
        response = client._transport.request(method, url, headers=headers, body=data, timeout=client.timeout)
    except OSError as error:
        raise AgentLoopError(f"AgentLoop could not reach {client.host}: {error}", code="unreachable") from error
    try:
        payload = json.loads(response.body or b"null")
    except ValueError:
        payload = None
    if response.status >= 400:
        code = payload.get("code") if isinstance(payload, dict) else None
        message = payload.get("message") if isinstance(payload, dict) else None
        raise AgentLoopError(message or f"HTTP {response.status}", code=code or f"http_{response.status}", status=response.status)
    return payload


def _name(name: str) -> str:
    return urllib.parse.quote(str(name), safe="")


class Dataset:
    """One version of a dataset. Iterating yields its cases (dicts, as the API returns them) in
    dataset order, fetching ``page_size`` at a time; every iteration reads the pinned version."""

    def __init__(self, client: Any, info: Mapping[str, Any], version: int | None, page_size: int = PAGE_SIZE) -> None:
        self._client = client
        self.name: str = info["name"]
        self.description: str = info.get("description", "")
        self.latest_version: int | None = info.get("latest_version")
        self.version: int | None = version if version is not None else self.latest_version
        numbers = {entry["number"]: entry for entry in info.get("versions", [])}
        pinned = numbers.get(self.version)
        self.cases_count: int = pinned["cases_count"] if pinned else (info.get("cases_count", 0) if self.version == self.latest_version else 0)
        self.page_size = page_size
        self.info = dict(info)

    def __iter__(self) -> Iterator[dict]:
        if self.version is None:
            return
        url: str | None = (f"/api/v1/datasets/{_name(self.name)}/versions/{self.version}/cases?"
                           + urllib.parse.urlencode({"limit": self.page_size}))
        while url:
            page = _request(self._client, "GET", url)
            yield from page["results"]
            url = page.get("next")

    def cases(self) -> list[dict]:
        return list(self)

    def export(self, format: str = "jsonl") -> bytes:  # noqa: A002 - the API's parameter name
        """The whole version in ``jsonl``, ``csv`` or ``openai`` (chat fine-tuning) format."""
        headers = {"Authorization": f"Bearer {self._client._api_key}", "User-Agent": self._client._headers["User-Agent"]}
        url = (f"{self._client.host}/api/v1/datasets/{_name(self.name)}/versions/{self.version}/export?"
               + urllib.parse.urlencode({"format": format}))
        response = self._client._transport.request("GET", url, headers=headers, timeout=self._client.timeout)
        if response.status >= 400:
            raise AgentLoopError(f"export failed: HTTP {response.status}", code=f"http_{response.status}", status=response.status)
        return response.body

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, version={self.version!r}, cases={self.cases_count})"


def dataset(client: Any, name: str, version: int | None = None, *, page_size: int = PAGE_SIZE) -> Dataset:
    info = _request(client, "GET", f"/api/v1/datasets/{_name(name)}")
    if version is not None and version not in {entry["number"] for entry in info.get("versions", [])}:
        # Older versions than the hundred listed: confirm it exists with its first page.
        _request(client, "GET", f"/api/v1/datasets/{_name(name)}/versions/{int(version)}/cases?limit=1")
    return Dataset(client, info, version, page_size=page_size)


def add_cases(client: Any, name: str, cases: Sequence[Mapping[str, Any]], *, message: str = "") -> dict:
    """Add cases (``{"input", "expected_output", …}`` or ``{"turn_id", "split"?, "tags"?}``) as one
    new version; returns ``{"version", "added", "rejected", "results"}`` (one result per case)."""
    body: dict[str, Any] = {"cases": [dict(case) for case in cases]}
    if message:
        body["message"] = message
    return _request(client, "POST", f"/api/v1/datasets/{_name(name)}/cases", body)


def create_dataset(client: Any, name: str, description: str = "") -> dict:
    return _request(client, "POST", "/api/v1/datasets", {"name": name, "description": description})
