# Included by every extension module: each carries its own copy of the C
# core's dispatch state, and fastconv._dispatch keeps them all in step.
from fastconv._cfastconv cimport fc_isa_set, fc_isa_active


def _set_isa(int level):
    return fc_isa_set(level)


def _isa_active():
    return fc_isa_active()
