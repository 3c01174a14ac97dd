"""The Kata 1.x profile (the final 1.x runtime, 1.13): see `profile.PROFILE`.

Kept empty so that the registry's modules can import the normalisers without building
the profile.
"""
