"""Document uploads in the chat: intake, background map → reduce summaries, persisted jobs.

Entry point for the app: `assistant.services.build_uploads` (start-up; the Chainlit callbacks live
in `assistant/ui/`). Nothing in this package sends a regulated section to a hosted model: every
model call is routed by the tier of exactly the text it carries (`routed_calls.TierRouter`, on
`routing.routed`), and every call is audited and charged to the uploader's budget.
"""
