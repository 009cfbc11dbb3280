"""The compiler: text -> AST -> resolved spec -> engine -> plan."""

from kostyor_dsl.compiler.api import (
    Compiled,
    Report,
    Written,
    check,
    compile_plan,
    compile_to,
    parse,
)
from kostyor_dsl.language.diagnostics import CompileError, Diagnostic, Severity, Span
from kostyor_dsl.plan.write import dump_plan, load_plan

__all__ = [
    "CompileError",
    "Compiled",
    "Diagnostic",
    "Report",
    "Severity",
    "Span",
    "Written",
    "check",
    "compile_plan",
    "compile_to",
    "dump_plan",
    "load_plan",
    "parse",
]
