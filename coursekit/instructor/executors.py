"""Where jobs run: here one after another, in N local processes, or on a Dask cluster.

Each executor calls ``done(result)`` in this process as jobs finish (in any order), and
``failed(job, reason)`` for a job that could not be graded at all (its worker raised, or its
task was lost for good), so that one broken job never stops the batch. Interrupting (Ctrl-C)
stops the workers; what finished before has been handed to ``done`` already.

Dask's ``distributed`` is the engine beyond one machine (a scheduler, and workers on laptops,
SSH hosts, Slurm/PBS/SGE through dask-jobqueue, Kubernetes through dask-kubernetes): a task
whose worker dies is run again on another worker, which is what "nothing lost" needs; the
batch's store (coursekit.instructor.jobs) makes "nothing twice".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from coursekit.instructor.jobs import Job, JobResult, grade_job

Done = Callable[[JobResult], None]
Failed = Callable[[Job, str], None]


def _reason(exc: BaseException) -> str:
    return f"error: grading could not finish: {type(exc).__name__}: {str(exc)[:200]}"


def run_serial(jobs: Sequence[Job], done: Done, failed: Failed) -> None:
    for job in jobs:
        try:
            result = grade_job(job)
        except Exception as exc:  # noqa: BLE001 - one broken job, not the batch
            failed(job, _reason(exc))
            continue
        done(result)


def run_processes(jobs: Sequence[Job], workers: int, done: Done, failed: Failed) -> None:
    """``workers`` local processes, each grading one submission at a time in its own sandbox."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: each worker starts clean, without the driver's threads or open files
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    futures = {pool.submit(grade_job, job): job for job in jobs}
    try:
        for future in as_completed(futures):
            exc = future.exception()
            if exc is not None:
                failed(futures[future], _reason(exc))
            else:
                done(future.result())
    except BaseException:  # Ctrl-C included: stop the workers and their sandboxes now
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def run_dask(jobs: Sequence[Job], scheduler: str, done: Done, failed: Failed) -> None:
    """Each job a task on the Dask cluster at ``scheduler`` (e.g. tcp://host:8786)."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        from coursekit.instructor.course import CourseError

        raise CourseError("grading on a cluster needs Dask: pip install 'coursekit[cluster]'") from exc
    client = Client(scheduler, timeout="30s")
    try:
        # The key names the job and its content: a resubmitted batch reuses nothing stale.
        futures = {client.submit(grade_job, job, key=f"coursekit-grade-{job.key[:16]}-{job.student}"
                                 f"-{job.notebook}", retries=1): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            if future.status == "error":
                failed(job, _reason(future.exception()))
            else:
                done(future.result())
    except BaseException:
        client.cancel(list(futures) if "futures" in locals() else [])
        raise
    finally:
        client.close()
