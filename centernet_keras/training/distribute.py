"""Distribution strategies of training: one device, one machine, several machines.

``--strategy none`` trains on the default device; ``mirrored`` on all GPUs of this machine (else
all logical CPUs); ``multiworker`` is ``tf.distribute.MultiWorkerMirroredStrategy``: one process
per machine (worker), the cluster and this process's place in it read from ``TF_CONFIG``, the
gradients summed over all workers' replicas after every step.

In every strategy ``--batch-size`` is the *global* batch: each of the ``R`` replicas computes
``batch / R`` examples of it (``distribute_training_data``), so the settings of a run — LR
scaling, steps per epoch, the data stream, ``--resume`` — do not depend on how many machines
train it. One worker, the chief (task ``chief``, else ``worker`` 0), writes the run's files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import tensorflow as tf

from centernet_keras.choices import STRATEGIES  # the names --strategy takes

#: Task types of a ``MultiWorkerMirroredStrategy`` cluster.
TASK_TYPES = ("chief", "worker")
TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


def _bad(problem: str) -> ValueError:
    return ValueError(
        f"--strategy multiworker: TF_CONFIG {problem}; it must name the cluster and this "
        f"worker's task, e.g. {TF_CONFIG_EXAMPLE} (README: Training on several machines)"
    )


def _check_address(address: object) -> None:
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _bad(f"has {address!r} where an address 'host:port' belongs")


def read_tf_config(environ: dict | None = None) -> dict:
    """The ``TF_CONFIG`` of a ``multiworker`` run, checked.

    Args:
        environ: the environment (default: ``os.environ``).

    Returns:
        The parsed ``{"cluster": {type: [addresses]}, "task": {"type", "index"}}``.

    Raises:
        ValueError: no ``TF_CONFIG``, or one that is not JSON, lacks the cluster or the task,
            names task types other than ``chief`` / ``worker``, holds malformed or repeated
            addresses, or a task that is not in the cluster (one line, with an example).
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not text:
        raise _bad("is not set")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise _bad(f"is not JSON ({err})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise _bad("has no 'cluster' (task type -> list of 'host:port')")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise _bad("has no 'task' ({'type': ..., 'index': ...})")
    other = sorted(set(cluster) - set(TASK_TYPES))
    if other:
        raise _bad(f"names task types {other}; multiworker training has only {list(TASK_TYPES)}")
    addresses = []
    for kind, hosts in cluster.items():
        if not isinstance(hosts, list) or not hosts:
            raise _bad(f"has cluster[{kind!r}] = {hosts!r}, not a list of 'host:port'")
        for address in hosts:
            _check_address(address)
        addresses += hosts
    if len(cluster.get("chief", [])) > 1:
        raise _bad(f"names {len(cluster['chief'])} chiefs; a cluster has at most one")
    if len(set(addresses)) < len(addresses):
        raise _bad("names an address twice")
    kind, index = task["type"], task["index"]
    if kind not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise _bad(f"has task {task}, which is not in the cluster {cluster}")
    return config


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy of ``--strategy`` (see the module docstring).

    ``multiworker`` must be created before TensorFlow runs anything in this process (the
    collectives are set up at start-up): ``train`` creates it first.

    Raises:
        ValueError: an unknown name, or ``multiworker`` with a missing or malformed
            ``TF_CONFIG``.
    """
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        read_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {name!r}")


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """The processes that train together (1 unless multi-worker)."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return strategy.num_replicas_in_sync // len(strategy.extended.worker_devices)
    return 1


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files: always, unless it is a multi-worker task
    other than the chief (task ``chief``, or ``worker`` 0 in a cluster without one)."""
    if num_workers(strategy) == 1:
        return True
    resolver = strategy.cluster_resolver
    kind, index = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().jobs
    return kind == "chief" or (kind == "worker" and index == 0 and not has_chief)


class ClusterError(RuntimeError):
    """Another worker of a multi-worker run stopped (its log says why)."""


def barrier(strategy: tf.distribute.Strategy) -> None:
    """Wait until every worker got here (a collective sum); nothing with one worker.

    Raises:
        ClusterError: another worker stopped before it got here (e.g. the chief found nothing
            to ``--resume``).
    """
    if num_workers(strategy) == 1:
        return

    @tf.function(autograph=False)
    def count():
        return strategy.run(tf.ones, args=([],))

    try:
        strategy.reduce("SUM", count(), axis=None)
    except (tf.errors.UnavailableError, tf.errors.AbortedError) as err:
        first = str(err).strip().splitlines()[0][:300]
        raise ClusterError(
            f"another worker stopped before training began; see its log (the chief's explains "
            f"a failed --resume). TensorFlow: {first}"
        ) from None


def check_global_batch(strategy: tf.distribute.Strategy, batch: int) -> None:
    """Check that the global ``batch`` splits evenly over the replicas.

    Raises:
        ValueError: it does not.
    """
    replicas = strategy.num_replicas_in_sync
    if batch % replicas:
        raise ValueError(
            f"the batch size {batch} is the global batch of all {replicas} replicas "
            f"({num_workers(strategy)} worker(s)): it must be a multiple of {replicas}"
        )


def distribute_training_data(
    strategy: tf.distribute.Strategy,
    build: Callable[[int, tuple[int, int, int] | None], tf.data.Dataset],
    global_batch: int,
) -> tf.data.Dataset | tf.distribute.DistributedDataset:
    """The training stream, each replica's share of every global batch read by its worker only.

    Global batch ``i`` holds examples ``[i·B, (i+1)·B)`` of the stream, whatever the strategy:
    replica ``r`` of ``R`` computes examples ``[i·B + r·B/R, i·B + (r+1)·B/R)`` of it, and a
    worker reads only the examples of its own replicas (not the whole stream, as TensorFlow's
    auto-sharding would). So ``N`` workers at ``--batch-size B`` see the batches of one worker at
    ``B``.

    Args:
        strategy: the run's strategy.
        build: ``build(batch, shard)`` → the batched ``tf.data`` stream, where ``shard`` is
            ``(index, count, run)``: keep the ``index``-th of every ``count`` consecutive runs
            of ``run`` examples (``None``: keep all). See ``pipeline.make_dataset``.
        global_batch: ``B``.

    Raises:
        ValueError: ``B`` is not a multiple of the number of replicas.
    """
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return build(global_batch, None)
    check_global_batch(strategy, global_batch)

    def per_pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = context.get_per_replica_batch_size(global_batch)
        local = replicas // context.num_input_pipelines
        shard = (context.input_pipeline_id, context.num_input_pipelines, per_replica * local)
        return build(per_replica, shard)

    return strategy.distribute_datasets_from_function(per_pipeline)
