"""The Chainlit and HTTP glue of the web app: what a browser sees and posts.

Nothing here decides privacy or routing; it renders, signs in and forwards to `assistant`.
"""
