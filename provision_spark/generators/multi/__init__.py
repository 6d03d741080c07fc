"""Multi-image generators (ProVision's select / compare / aggregate families) as Spark relational operations.

Splits VG-M (human scene graphs) and DC-M (model-made). The pieces:

- ``inputs``: the flat tables as scene rows plus derived relations (presence, "pure" presence,
  image signatures of meaning keys) and the vocabulary's synonym groups as join keys;
- ``sampling``: seeded hash orderings, round-robin anchors, hash-bucket draws with anti-joins;
- ``select``, ``compare``, ``aggregate``: the 14 generators, each registered with
  ``base.multi_generator`` in the shared registry (``kind="multi"``);
- ``render`` (English and multiple choice, per row), ``measures`` + ``checker`` (independent
  re-derivation), ``engine`` (the job), ``export`` (multi-image conversations), ``cli``.

To add a generator, write a module here with a function ``(MultiInputs, Params) -> DataFrame`` of
``base.FACT_COLUMNS`` decorated with ``@multi_generator(name, family=..., requires=..., render=...,
answer=..., truth=...)``; the engine, checker, CLI and exports pick it up by name.
"""
