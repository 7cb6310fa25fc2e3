"""The governed OpenAI-compatible API: other internal apps get the same gate, routing and audit.

`POST /v1/chat/completions` (streaming and not) and `GET /v1/models`, served beside the chat UI,
authenticated by API keys (`assistant/governance/api_keys.py`). Every request goes through the
same chat pipeline as a person's message: the sensitivity gate over every message of the
request, pseudonymization, tier-safe routing and fallbacks, budgets and the hash-chained audit.
Nothing regulated reaches a hosted model from here, and no error returns a traceback.
"""
