"""The kostyor runtime: runs an upgrade plan as Celery chains through a driver.

Importing this package is cheap and never imports Celery: the pieces that need
Celery (`app`, `tasks`, `control`, `worker_queues`) are imported by whoever uses
them, so `kostyorc compile` and the review tools start fast.

Modules, by what they do:

- `settings`: where the broker, the result backend and the state folder are.
- `plan_file`: load a plan and validate it against its schema.
- `canvas`: the pure description of the canvas a run sends (no Celery), and
  the function turning it into Celery signatures.
- `records`: the run record and the step records (plain data).
- `run_store` / `redis_store`: the durable per-run record (run state, each
  step's state, per-step locks) in the state folder or in Redis;
  `store_factory` picks one for the settings.
- `current`: this process's settings and run store (shared by `app` and
  `worker_queues`, so neither imports the other).
- `drivers`: the driver interface, the entry point loader, parameters.
- `app` / `tasks`: the Celery app and the step task that guards every step.
- `reconcile`: re-publishes a running run's next step when it has no message.
- `worker_queues`: the worker bootstep consuming the queues of live runs.
- `run_queues`: a run's queues: emptying them, deleting them when it ends.
- `step_processes`: what a killed attempt of a step left running, stopped
  before the next attempt starts.
- `control`: submit, pause, resume, cancel, retry (the facade the CLI calls).
- `status`: the status document and its text rendering.
"""
