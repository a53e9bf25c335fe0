"""Doing the work: the scheduler, one dispatch over the backends, the worker pool, the worker, trace scoring, the training stage, the submitit backend, devices, and leases on cells."""
