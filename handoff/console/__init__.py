"""The agent and supervisor console: an aiohttp sub-application mounted at /console."""

from handoff.console.app import create_console
from handoff.console.config import ConsoleConfig
from handoff.console.toolkit import BROKER as CONSOLE_BROKER
from handoff.live import Broker

__all__ = ["CONSOLE_BROKER", "Broker", "ConsoleConfig", "create_console"]
