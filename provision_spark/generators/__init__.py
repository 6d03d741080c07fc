"""Instruction generators: registry, shared English/choices/checker/export, single-image generators.

``registry.register`` adds a generator; ``checker.checks`` adds its independent check;
``engine.generate_single`` runs all single-image ones over ``scene_graphs`` in Spark.
"""
