"""The one error of the review use cases, apart so every module of the app can raise it."""


class ReviewRefused(Exception):
    """What a person asked for cannot be done; the message says why and what to do instead."""
