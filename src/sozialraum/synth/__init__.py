"""Seeded generator of the synthetic Ruhr city Haldenbrück: ``python -m sozialraum.synth`` writes datasets/."""
