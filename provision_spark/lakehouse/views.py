"""SQL views over the lakehouse tables, for the questions users ask of it.

One small definition per view: a comment (shown in Catalog Explorer and ``DESCRIBE``) and a SELECT
over ``{ns}``, the tables' namespace (``catalog.schema`` on Unity Catalog, ``schema`` locally).
``create_views`` (re)creates them all with ``CREATE OR REPLACE VIEW``: views hold no data, so
re-running it only refreshes the definitions. Query them like tables::

    provision sql "SELECT * FROM provision.instructions_by_generator ORDER BY n_instructions DESC"
"""

from __future__ import annotations

import dataclasses

from pyspark.sql import SparkSession

from provision_spark.lakehouse.config import Settings
from provision_spark.lakehouse.tables import ensure_tables


@dataclasses.dataclass(frozen=True)
class View:
    comment: str
    sql: str


VIEWS: dict[str, View] = {
    "instructions_by_generator": View(
        "Instructions per generator and split (VG-S/VG-M: human scene graphs, DC-S/DC-M: model-made).",
        """
        SELECT generator, family, kind, split, source, count(*) AS n_instructions
        FROM {ns}.instructions
        GROUP BY generator, family, kind, split, source
        """,
    ),
    "answer_distribution": View(
        "Short answers per generator: how often each answer occurs, and its share of the generator's items.",
        """
        SELECT generator, answer, n,
               n / sum(n) OVER (PARTITION BY generator) AS share,
               rank() OVER (PARTITION BY generator ORDER BY n DESC) AS rank
        FROM (SELECT generator, answer, count(*) AS n FROM {ns}.instructions GROUP BY generator, answer)
        """,
    ),
    "mc_answer_positions": View(
        "Multiple-choice balance: how often the right choice sits at each position, per generator.",
        """
        SELECT generator, n_choices, correct_index, n,
               n / sum(n) OVER (PARTITION BY generator, n_choices) AS share
        FROM (SELECT generator, size(choices) AS n_choices, correct_index, count(*) AS n
              FROM {ns}.instructions
              GROUP BY generator, size(choices), correct_index)
        """,
    ),
    "object_frequency": View(
        "Object names by frequency: objects and images that have them, human-annotated vs model-detected.",
        """
        SELECT name,
               count(*) AS n_objects,
               count(DISTINCT image_id) AS n_images,
               count_if(source = 'human') AS n_human,
               count_if(source = 'model') AS n_model
        FROM {ns}.objects
        GROUP BY name
        """,
    ),
    "attribute_frequency": View(
        "Attributes by frequency: (object, attribute) pairs and images that have them.",
        """
        SELECT attribute,
               count(DISTINCT image_id, object_id) AS n_objects,
               count(DISTINCT image_id) AS n_images,
               count_if(source = 'human') AS n_human,
               count_if(source = 'model') AS n_model
        FROM {ns}.attributes
        GROUP BY attribute
        """,
    ),
    "predicate_frequency": View(
        "Relation predicates by frequency: relations and images that have them.",
        """
        SELECT predicate,
               count(*) AS n_relations,
               count(DISTINCT image_id) AS n_images,
               count_if(source = 'human') AS n_human,
               count_if(source = 'model') AS n_model
        FROM {ns}.relations
        GROUP BY predicate
        """,
    ),
    "scene_graph_sizes": View(
        "Every image with the size of its scene graph (zeros when it has none yet).",
        """
        SELECT i.image_id, i.dataset, i.source, i.width, i.height,
               g.image_id IS NOT NULL AS has_scene_graph,
               coalesce(g.n_objects, 0) AS n_objects,
               coalesce(g.n_attributes, 0) AS n_attributes,
               coalesce(g.n_relations, 0) AS n_relations,
               coalesce(size(filter(g.objects, o -> o.mask IS NOT NULL)), 0) AS n_masks,
               coalesce(size(filter(g.objects, o -> o.depth IS NOT NULL)), 0) AS n_object_depths,
               coalesce(g.depth_map IS NOT NULL, false) AS has_depth_map
        FROM {ns}.images i
        LEFT JOIN {ns}.scene_graphs g ON g.image_id = i.image_id
        """,
    ),
    "perception_coverage": View(
        "Per annotation table, dataset and model version: rows, images covered, and their share of the dataset's images.",
        """
        WITH annotated AS (
          SELECT 'objects' AS table_name, image_id, source, model_name, model_version FROM {ns}.objects
          UNION ALL SELECT 'masks', image_id, source, model_name, model_version FROM {ns}.masks
          UNION ALL SELECT 'object_depth', image_id, source, model_name, model_version FROM {ns}.object_depth
          UNION ALL SELECT 'image_depth', image_id, source, model_name, model_version FROM {ns}.image_depth
          UNION ALL SELECT 'attributes', image_id, source, model_name, model_version FROM {ns}.attributes
          UNION ALL SELECT 'relations', image_id, source, model_name, model_version FROM {ns}.relations
        ),
        per_dataset AS (
          SELECT dataset, count(*) AS images_total FROM {ns}.images GROUP BY dataset
        )
        SELECT a.table_name, i.dataset, a.source, a.model_name, a.model_version,
               count(*) AS n_rows,
               count(DISTINCT a.image_id) AS n_images,
               first(d.images_total) AS images_total,
               count(DISTINCT a.image_id) / first(d.images_total) AS coverage
        FROM annotated a
        JOIN {ns}.images i ON i.image_id = a.image_id
        JOIN per_dataset d ON d.dataset = i.dataset
        GROUP BY a.table_name, i.dataset, a.source, a.model_name, a.model_version
        """,
    ),
    "instruction_answer_balance": View(
        "Per generator: items, distinct answers, the most frequent answer and its share (the quality "
        "report's answer balance; provision quality-report adds entropy, position balance and defects).",
        """
        SELECT generator, sum(n) AS items, count(*) AS answers,
               max_by(answer, n) AS top_answer, max(n) / sum(n) AS top_share
        FROM (SELECT generator, answer, count(*) AS n FROM {ns}.instructions GROUP BY generator, answer)
        GROUP BY generator
        """,
    ),
    "quarantine_by_reason": View(
        "What was set aside, by dataset, entity, stage and reason (ids and quoted values in the reason "
        "replaced by # and '...', so that one kind of problem is one row), with one example.",
        """
        SELECT dataset, entity, stage, reason, count(*) AS n, min(example) AS example
        FROM (SELECT dataset, entity, stage, reason AS example,
                     regexp_replace(regexp_replace(reason, "'[^']*'", "'...'"), '[0-9]+', '#') AS reason
              FROM {ns}.quarantine)
        GROUP BY dataset, entity, stage, reason
        """,
    ),
}


def view_sql(name: str, settings: Settings) -> str:
    """The ``CREATE OR REPLACE VIEW`` statement of one view."""
    view = VIEWS[name]
    comment = view.comment.replace("\\", "\\\\").replace("'", "\\'")
    body = view.sql.format(ns=settings.namespace).strip()
    return f"CREATE OR REPLACE VIEW {settings.namespace}.{name}\nCOMMENT '{comment}'\nAS {body}"


def create_views(spark: SparkSession, settings: Settings) -> list[str]:
    """(Re)create every view in ``settings.namespace``; returns their qualified names."""
    ensure_tables(spark, settings)
    created = []
    for name in VIEWS:
        spark.sql(view_sql(name, settings))
        created.append(f"{settings.namespace}.{name}")
    return created
