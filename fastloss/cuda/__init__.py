"""fastloss's CUDA backend: Numba CUDA kernels for every loss of the table.

Not imported by ``import fastloss``: the loss entry points import it when a GPU array (one
with ``__cuda_array_interface__``) arrives or ``backend="cuda"`` is asked for.  Needs the
numba-cuda package (``pip install "fastloss[cuda]"``)."""
