"""Small- and wide-angle X-ray scattering of a twin: intensity model, detectors, scanning SWAXS, SAXS tomography (seeds/000)."""
