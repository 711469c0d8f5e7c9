"""Figures from tidy results (matplotlib, Agg; PNG and SVG, byte-identical from the same rows)."""
