"""`kostyorc serve`: a live view of runs in the browser, a skin beside `cli/` and `lsp/`.

It calls the same library functions as `kostyorc status`, `runs`, `pause`,
`resume`, `cancel` and `retry` (`runtime.status`, `runtime.control`) and
`simulate --from-run` (`simulate.from_run`); nothing below this package
imports it, so the compiler and the worker never load Starlette.

Modules, by what they do:

- `layout`: the run page's fixed part, cut from the plan as the runtime runs
  it (stages, batches, hosts, steps).
- `snapshot`: what changes, read from the run store (the run's state, each
  step's state, times, attempts and output tail, budgets' headroom), and the
  difference between two readings.
- `window`: the plan's expected window and the ETA from the steps done so far.
- `live`: one watcher per viewed run, numbering the changes it sees as
  server-sent events and keeping the last ones for a reconnecting page.
- `security`: the token, the same-origin check, the Host check.
- `verbs`: the control verbs as a page asks for them (`runtime.control`'s).
- `app`: the Starlette application (pages, events, control verbs).
"""
