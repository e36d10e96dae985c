"""Fitting SAXS/WAXS data back to nanostructure: batch curve fits, maps, SAXS-tomography reconstruction (seeds/000)."""
