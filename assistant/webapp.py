"""Old import path of `assistant.ui.webapp`, kept because `assistant/cli.py` (not the UI's file)
imports `exec_chainlit` from here. Nothing new belongs in this module."""

from assistant.ui.webapp import exec_chainlit

__all__ = ["exec_chainlit"]
