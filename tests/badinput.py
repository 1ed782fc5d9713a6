"""Bad-input test support: run a loss under the backend a test selects.

A group's cases module lists its own bad-input cases (``BAD``: id, call, exception type,
the argument the message must name) with losses wrapped by ``on_backend``; the test in
test_bad_input.py runs every case under both backends."""

BACKEND = {"name": "cpu"}   # set per test: every call below runs under that backend


class _OnBackend:
    """A loss whose calls default to BACKEND["name"] (an explicit backend= still wins)."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, *a, **k):
        return self.loss(*a, **{"backend": BACKEND["name"], **k})

    def value_and_grad(self, *a, **k):
        return self.loss.value_and_grad(*a, **{"backend": BACKEND["name"], **k})

    def grad(self, *a, **k):
        return self.loss.grad(*a, **{"backend": BACKEND["name"], **k})


def on_backend(loss):
    return _OnBackend(loss)
