"""Small- and wide-angle X-ray scattering of a twin (seeds/000).

Intensity model, detectors, curves and their files, scanning SWAXS, SAXS tomography, planning.
"""
