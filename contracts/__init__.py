"""Consumer-driven contracts between Django's agent client and the FastAPI agent (Pact V4).

consumer/ records what `HttpAgentClient` sends and relies on; pacts/ holds the committed result;
provider/ replays it against the real agent app. See contracts/README.md.
"""
