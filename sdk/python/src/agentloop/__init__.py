"""AgentLoop SDK: log agent turns, feedback and signals; signed no-login feedback URLs.

    from agentloop import AgentLoop

    loop = AgentLoop(api_key="al_sk_…", host="https://agentloop.example.com")
    turn = loop.log_turn(question=q, agent_response=a, user_id=u, session_id=s)
    turn.id, turn.feedback_url

Standard library only; nothing here blocks on the network or raises into the host app.
"""

from agentloop.client import AgentLoop, Turn
from agentloop.errors import AgentLoopError
from agentloop.prompts import Prompt, PromptError, PromptNotFound, PromptRenderError, PromptUnavailable
from agentloop.version import __version__

__all__ = [
    "AgentLoop", "AgentLoopError", "Prompt", "PromptError", "PromptNotFound", "PromptRenderError", "PromptUnavailable",
    "Turn", "__version__",
]
