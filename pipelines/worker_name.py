"""The name an Airflow worker goes by: ``$TFPIPE_WORKER_NAME``, else the machine's FQDN.

Airflow records ``[core] hostname_callable`` as each task instance's hostname. Two Celery workers
on one machine (``make airflow-celery``) would both record the same FQDN; each is started with its
own ``TFPIPE_WORKER_NAME`` and
``AIRFLOW__CORE__HOSTNAME_CALLABLE=tfpipe.pipelines.worker_name.hostname``,
so the UI, the REST API and tfpipe's step records say which worker ran what.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("TFPIPE_WORKER_NAME") or socket.getfqdn()
