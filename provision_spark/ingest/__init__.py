"""Readers that turn scene-graph sources (Visual Genome, GQA, the ProVision sample) into the flat tables."""
