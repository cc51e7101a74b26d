"""AWS for the AWS action tests: moto's server in its own process behind a fault-injecting proxy
(tests/support/aws_moto.py), reset before every test.

The proxy's port is taken and the AWS variables are set while this file is imported, at collection,
so the session's Celery worker (tests/conftest.py builds its environment from os.environ when it
starts) finds AWS through AWS_ENDPOINT_URL like a deployed worker would, whichever test starts it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.aws_moto import AwsWorld, FaultProxy, MotoServer, bind_listener, configure_environment

_LISTENER = bind_listener()
configure_environment(f"http://127.0.0.1:{_LISTENER.getsockname()[1]}")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def aws_proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(_LISTENER)
    proxy.start(moto_server.port)
    yield proxy
    proxy.stop()


@pytest.fixture
def aws(moto_server: MotoServer, aws_proxy: FaultProxy) -> AwsWorld:
    """An empty AWS (moto reset) and a clean proxy, for one test."""
    moto_server.reset()
    aws_proxy.reset()
    return AwsWorld(moto_server.url)
