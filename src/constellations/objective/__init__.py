"""The objectives: the smoothed margin with its kernels (:mod:`.reference`, the float64 NumPy reference;
:mod:`.numba_kernels`, :mod:`.torch_kernels`, :mod:`.triton_kernels`, :mod:`.compiled`; one selector,
:mod:`.backends`; Numba loaded on first use, :mod:`.jit`) and the sigmoid losses (:mod:`.losses`)."""
