"""The run store, shared by the app, its workers, the launcher and the CLI: workers write a run's status and
metrics, pages and the CLI read them.

Its modules, each one job:

- ``runs``: the ``Store`` itself, the API everything else calls (queue, start, end, stop, delete, read runs);
- ``records``: what a stored run is (``Run``) and its statuses;
- ``fingerprint``: what decides a run's result, and the indexed key by which a plan finds its stored runs;
- ``queue``: the queue's policy: admission caps, claim order, a queued run's position;
- ``metric_rows``: a run's step, epoch and detail rows;
- ``sink``: ``StoreSink``, the training loop's sink that writes to a store;
- ``migrations``: the schema's versions, and bringing a database to the latest;
- ``engine``: what the store asks of a database engine; ``sqlite`` is the default engine, ``healing`` keeps
  its file usable (damaged, deleted, locked, on a full disk); ``postgres`` serves a class from one server;
- ``opening``: which engine the settings (``$AUGVIZ_DB``) or a parent process's ``--db`` name.

None of them imports torch (reading runs loads no PyTorch), nor psycopg unless PostgreSQL is asked for.
"""

from augviz.store.opening import default_store, open_store
from augviz.store.queue import CLI_VISITOR
from augviz.store.records import ENDED, ERROR_KINDS, STATUSES, Run
from augviz.store.runs import Store, pid_alive
from augviz.store.sink import StoreSink

__all__ = ["CLI_VISITOR", "ENDED", "ERROR_KINDS", "STATUSES", "Run", "Store", "StoreSink", "default_store",
           "open_store", "pid_alive"]
