"""Process lifecycle: the at-exit flush and fork safety."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agentloop import AgentLoop

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_a_process_that_exits_without_flushing_still_delivers(server):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {SRC!r})
        from agentloop import AgentLoop
        loop = AgentLoop(api_key={server.api_key!r}, host={server.url!r}, project_id="p", flush_interval=60)
        turn = loop.log_turn(question="bye", agent_response="see you")
        print(turn.id)
    """)

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert server.committed_ids() == [result.stdout.strip()]


def test_an_exiting_process_with_an_unreachable_host_exits_promptly(unused_port):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {SRC!r})
        from agentloop import AgentLoop
        loop = AgentLoop(api_key="al_sk_abc_secret", host="http://127.0.0.1:{unused_port}", project_id="p")
        loop.log_turn(question="lost")
    """)

    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)

    assert time.monotonic() - started < 10  # shutdown(timeout=5) at exit, then give up
    assert result.returncode == 0, result.stderr
    assert "dropped 1 undelivered items at shutdown" in result.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # the point of the test
def test_a_forked_child_gets_its_own_sender_and_an_empty_queue(server):
    loop = AgentLoop(api_key=server.api_key, host=server.url, project_id="p", flush_interval=60)
    parent_turn = loop.log_turn(question="from the parent")
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child: report its turn id, deliver, exit without running pytest's teardown
        code = 1
        try:
            os.close(read_end)
            child_turn = loop.log_turn(question="from the child")
            delivered = loop.flush(timeout=10)
            os.write(write_end, f"{child_turn.id} {delivered} {loop.stats['queued']}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_id, child_delivered, child_queued = pipe.read().split()
    _, exit_status = os.waitpid(pid, 0)
    assert loop.flush(timeout=10) is True
    loop.shutdown()

    assert exit_status == 0
    assert child_delivered == "True"
    assert child_queued == "1"
    assert sorted(server.committed_ids()) == sorted([parent_turn.id, child_id])
