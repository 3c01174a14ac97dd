"""Host facts (real and recorded), probes of installed binaries, bounded reads."""
