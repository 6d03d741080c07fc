"""provision-spark: ProVision's scene graphs and instruction generators as a Spark/Delta lakehouse ETL."""

__version__ = "0.1.0"
