"""Document uploads in the chat: intake, background map → reduce summaries, persisted jobs.

Entry points for the app: `service.build_upload_service` (start-up), `chat_ui` (Chainlit callbacks).
Nothing in this package sends a regulated section to a hosted model: every model call is routed
by the tier of exactly the text it carries (`routed_calls.TierRouter`).
"""
