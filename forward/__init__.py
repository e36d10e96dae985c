"""Forward models: from a twin and an instrument to the data a beamline would record.

``forward.instrument`` holds the beam, detector and scan descriptions that
every modality takes; each modality gets one module named after it
(``forward.tomography``, ``forward.saxs``, ...).
"""
