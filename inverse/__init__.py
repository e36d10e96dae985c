"""Inverse solvers: from recorded data, simulated or measured, back to physical quantities.

One module per modality (``inverse.tomography``, ``inverse.saxs``, ...). An
inverse solver takes only measurements and instrument descriptions, never a
twin, so the same call works on real data.
"""
