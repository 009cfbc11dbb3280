"""The plan as a file: written byte-stably, sealed, read back and checked.

The contract between the compiler (which builds it: compiler.plan_build) and
its readers (runtime, simulate, review), none of which needs the compiler."""
