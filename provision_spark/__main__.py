"""``python -m provision_spark``: the ``provision`` command."""

from provision_spark.cli import main

main()
