"""DC conduction through a twin: resistor network, finite elements, effective conductivity (seeds/003, ch. 4)."""

from forward.conduction.fem import FemSolution, solve_fem
from forward.conduction.network import (EffectiveConductivity, Electrode, NetworkSolution, effective_conductivity,
                                        simulate, solve, twin_electrodes)
from forward.conduction.properties import (Conductivity, ConductivityField, conductivity_field, field_from_labels,
                                           layered_tensor, section_tensors, thesis_conductivities)

__all__ = ["Conductivity", "ConductivityField", "EffectiveConductivity", "Electrode", "FemSolution", "NetworkSolution",
           "conductivity_field", "effective_conductivity", "field_from_labels", "layered_tensor",
           "section_tensors", "simulate", "solve", "solve_fem", "thesis_conductivities", "twin_electrodes"]
