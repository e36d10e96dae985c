"""XANES imaging (2D/3D TXM spectromicroscopy across an absorption edge, seeds/004): edge model, stacks, planning."""
