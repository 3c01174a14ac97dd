"""The configuration core: registry, decode, load, validate, overlay, pipeline."""
