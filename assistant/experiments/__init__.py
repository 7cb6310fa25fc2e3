"""A/B experiments on the assistant's capabilities: variants, sticky assignment, metrics, replay.

A variant may change how a turn is *answered* (prompt template, preferred model, retrieval k,
reranking) and never how it is *routed*: nothing here can name a tier, a route or a policy rule,
and a preferred model only reorders the models the policy already allowed for the turn.
"""
