"""Offline experiments over the key routes (``/api/v1/experiments…``): run your code on every case
of a pinned dataset version, upload outputs and scores in batches, read the summary.

    exp = loop.run_experiment("Refund failures", version=3, task=answer, prompt=("support-agent", 3),
                              scorers=[{"name": "exact", "kind": "exact_match"}], concurrency=8)
    exp["summary"]["exact"]["pass_rate"]
    loop.experiment(exp["id"])                      # read it again later

``task(case)`` gets the case dict (``id``, ``input``, ``history``, ``context``, ``expected_output``,
…) and returns the output string, or ``{"output": str, "scores": {name: number | bool}}``. A task
that raises is that case's ``error`` (uploaded; a rerun retries it). Calls run ``concurrency`` at
a time in threads; a progress bar is shown on stderr (tqdm when installed, else one line).
Resumable: pass ``experiment_id`` of an interrupted run and the cases already uploaded are
skipped. The scorers run on the server's worker; the call waits up to ``wait`` seconds for them
and returns the experiment with its summary per scorer (``status`` says whether it finished).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait as wait_for
from typing import Any

from agentloop.datasets import _request, dataset as dataset_get
from agentloop.errors import AgentLoopError

BATCH_SIZE = 100


class _Progress:
    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.total, self.done, self.enabled, self._bar = total, initial, enabled, None
        if enabled:
            try:
                from tqdm import tqdm  # type: ignore

                self._bar = tqdm(total=total, initial=initial, unit="case", file=sys.stderr)
            except ImportError:
                self._line()

    def _line(self) -> None:
        sys.stderr.write(f"\rexperiment: {self.done}/{self.total} cases")
        sys.stderr.flush()

    def step(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
        else:
            self._line()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            sys.stderr.write("\n")


def experiment(client: Any, experiment_id: int) -> dict:
    """The experiment with its progress and summary per scorer."""
    return _request(client, "GET", f"/api/v1/experiments/{int(experiment_id)}")


def upload_results(client: Any, experiment_id: int, results: Sequence[Mapping[str, Any]]) -> dict:
    """POST outputs (``{"case_id", "output", "scores"?}``); returns the per-item outcomes."""
    return _request(client, "POST", f"/api/v1/experiments/{int(experiment_id)}/results", {"results": list(results)})


def _item(case_id: str, answer: Any) -> dict:
    if isinstance(answer, Mapping):
        item = {"case_id": case_id, "output": str(answer.get("output", ""))}
        if answer.get("scores"):
            item["scores"] = dict(answer["scores"])
        return item
    return {"case_id": case_id, "output": "" if answer is None else str(answer)}


def run_experiment(client: Any, dataset: str, *, task: Callable[[dict], Any], version: int | None = None,
                   prompt: tuple[str, int] | Mapping[str, Any] | None = None, scorers: Sequence[Mapping[str, Any]] | None = None,
                   concurrency: int = 8, experiment_id: int | None = None, name: str | None = None,
                   batch_size: int = BATCH_SIZE, progress: bool = True, wait: float = 60.0) -> dict:
    pinned = dataset_get(client, dataset, version)
    if pinned.version is None:
        raise AgentLoopError(f"Dataset {dataset!r} has no version yet.", code="not_found", status=404)
    if experiment_id is None:
        body: dict = {"name": name or f"{dataset} v{pinned.version}", "dataset": dataset, "dataset_version": pinned.version}
        if prompt is not None:
            body["prompt"] = dict(prompt) if isinstance(prompt, Mapping) else {"name": prompt[0], "version": int(prompt[1])}
        if scorers:
            body["scorers"] = [dict(s) for s in scorers]
        experiment_id = _request(client, "POST", "/api/v1/experiments", body)["id"]
        done: set[str] = set()
    else:
        done = set(_request(client, "GET", f"/api/v1/experiments/{int(experiment_id)}/results")["case_ids"])
    cases = [case for case in pinned if case["id"] not in done]
    bar = _Progress(total=len(cases) + len(done), initial=len(done), enabled=progress)
    pending: list[dict] = []

    def run(case: dict) -> dict:
        try:
            return _item(case["id"], task(case))
        except Exception as error:  # noqa: BLE001 - the case's error, uploaded; a rerun retries it
            return {"case_id": case["id"], "output": "", "error": f"{error.__class__.__name__}: {error}"[:2000]}

    def flush() -> None:
        if pending:
            upload_results(client, experiment_id, pending)
            pending.clear()

    try:
        with ThreadPoolExecutor(max_workers=max(1, int(concurrency))) as pool:
            queue = iter(cases)
            running = set()
            for case in queue:  # keep at most 2 × concurrency calls in flight (bounded memory)
                running.add(pool.submit(run, case))
                if len(running) >= 2 * max(1, int(concurrency)):
                    finished, running = wait_for(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        pending.append(future.result())
                        bar.step()
                    if len(pending) >= batch_size:
                        flush()
            for future in running:
                pending.append(future.result())
                bar.step()
                if len(pending) >= batch_size:
                    flush()
        flush()
    except BaseException as error:  # interrupted (Ctrl-C, a crash): keep what finished, say how to resume
        try:
            flush()
        except Exception:  # noqa: BLE001 - the interruption is the error to report
            pass
        error.agentloop_experiment_id = experiment_id  # type: ignore[attr-defined]
        sys.stderr.write(f"\nexperiment {experiment_id} interrupted; resume with experiment_id={experiment_id}\n")
        raise
    finally:
        bar.close()
    deadline = time.monotonic() + max(0.0, wait)
    current = experiment(client, experiment_id)
    while current["status"] not in ("done", "failed") or current["cases_done"] < current["results_count"]:
        if time.monotonic() >= deadline:
            break
        time.sleep(0.25)
        current = experiment(client, experiment_id)
    return current
