"""Penguins retraining on a training cluster across hosts: the trainer's chief and workers are
tasks of the run, each on the Celery queue of its host, each with its TF_CONFIG.

Defined only where ``$TFPIPE_TRAINING_CLUSTER`` names the cluster (JSON, e.g.
``{"chief": ["w1:2222"], "worker": ["w2:2222"]}``: a Celery worker on each host consuming the
queue named after it, ``airflow celery worker --queues default,w1``), so this file defines nothing
elsewhere.

- `penguins_cluster`: Keras under MultiWorkerMirroredStrategy (the pipeline's modern runtime).
- `penguins_cluster_estimator`: the trainer on the estimator runtime (TF 2.15); triggered with
  ``{"backend": "auto"}`` the Keras model is converted to an Estimator (``model_to_estimator``)
  and trained with ``train_and_evaluate`` under MultiWorkerMirroredStrategy.
"""

import os

from tfpipe.airflow import build_dag

cluster = os.environ.get("TFPIPE_TRAINING_CLUSTER")
if cluster:
    dag = build_dag("penguins", dag_id="penguins_cluster", schedule=None, training_cluster=cluster)
    estimator = build_dag(
        "penguins",
        dag_id="penguins_cluster_estimator",
        schedule=None,
        training_cluster=cluster,
        runtimes={"trainer": "estimator"},
    )
