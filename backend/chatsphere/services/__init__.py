"""Business logic: typed, keyword-only `<entity>_<action>` functions. Views call exactly one of them."""
