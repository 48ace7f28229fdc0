"""The chat core: Parley's chat rules with no I/O (events in, actions out). See chat.py."""

from .chat import ChatCore, Now
from .presence import Directory, OnlineUser, Presence

__all__ = ["ChatCore", "Directory", "Now", "OnlineUser", "Presence"]
