"""Shared machinery of the components: specs, parameters, fingerprints, runtimes, execution.

Importing it has no side effects (no environment changes, no TensorFlow): the Airflow DAG processor
and the CLI import it while parsing pipelines. The TensorFlow switches a runtime needs are set by
the processes that run components (see ``tfpipe.components.core.runtime``).
"""
