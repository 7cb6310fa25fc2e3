"""The human review queue: a sample of answers that reviewers grade correct / partly / wrong.

`models` holds the typed settings and records, `sampling` decides which turns are sampled,
`table` the database row, `queue` who may see and grade what, `accuracy` graded accuracy per
experiment variant. It must never show a regulated turn to anyone outside the groups the review
settings name for regulated content, and never imports `assistant.ui`.
"""
