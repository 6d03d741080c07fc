"""Where the tables live: settings, the Spark session, Delta tables (MERGE, delete-by-keys),
MLflow job runs, quarantine rows and the SQL views users query."""
