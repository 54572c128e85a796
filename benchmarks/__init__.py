"""Rate-distortion benchmarks: sae against real codecs, MDCT+EC and an oracle curve."""
