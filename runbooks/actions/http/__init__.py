"""HTTP targets: call an endpoint, and probe a service until it is verified healthy."""

from ..registry import register_family

register_family(
    name="http",
    package=__name__,
    actions={"http.request": ".actions:HttpRequest", "http.wait_healthy": ".actions:HttpWaitHealthy"},
    binding_checks={"http": ".bindings:binding_problems"},
    binding_access={"http": ".access:binding_access"},
    binding_kinds=("http",),
    docs="docs/actions.md#http",
)
