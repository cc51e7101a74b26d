"""Waiting without holding a worker."""

from ..registry import register_family

register_family(name="timing", package=__name__, actions={"wait": ".actions:Wait"}, docs="docs/actions.md#timing")
