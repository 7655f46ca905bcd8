# Helpers shared by the extension modules (inline, so no module of its own).
from fastconv._cfastconv cimport FC_OK, FC_EINVAL, FC_ENOMEM, FC_EOVERFLOW, FC_EUNSUPPORTED


cdef inline int check_status(int status, str what) except -1:
    """Turn a C status code into the matching Python exception."""
    if status == FC_OK:
        return 0
    if status == FC_ENOMEM:
        raise MemoryError(f"{what}: could not allocate the workspace")
    if status == FC_EOVERFLOW:
        raise ValueError(f"{what}: the sizes involved overflow the address space")
    if status == FC_EUNSUPPORTED:
        raise RuntimeError(f"{what}: not supported on this CPU")
    raise ValueError(f"{what}: invalid argument (C status {status})")
