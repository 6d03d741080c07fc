"""The perception pipeline: scene graphs for images that have none (the paper's DC-* splits).

Five stages, each a Spark ``mapInArrow`` UDF over batches of images whose model is loaded once per
Python worker: detection (YOLO-World) -> ``objects``, segmentation (SAM-2) -> ``masks``, depth
(Depth Anything V2) -> ``object_depth``/``image_depth``, attributes (a VLM per object crop) ->
``attributes``, relations (a VLM per object pair, grounded to our relation vocabulary) ->
``relations``. Every row carries the model's name, version and the MLflow run id.

Each stage is one record in ``stages.STAGES``; ``pipeline.perceive`` runs them.
"""
