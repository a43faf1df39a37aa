"""The SDK version, sent as ``User-Agent: agentloop-python/<version>``."""

__version__ = "0.1.0"
