"""The Kata 1.x option registry, section by section."""
