"""Compton scattering imaging (XCS): physics, pinhole camera, detector, simulation and measurements."""
