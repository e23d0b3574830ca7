"""Pipeline definitions, the local runner, the Airflow DAG builder and the ``tfpipe`` CLI.

Nothing in this package imports TensorFlow at module level.
"""
