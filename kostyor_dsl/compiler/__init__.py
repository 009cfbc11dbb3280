"""The compiler: text -> AST -> resolved spec -> engine -> plan."""

from kostyor_dsl.compiler.api import Compiled, Report, check, compile_plan, parse
from kostyor_dsl.compiler.diagnostics import CompileError, Diagnostic, Severity, Span
from kostyor_dsl.compiler.plan import dump_plan, load_plan

__all__ = [
    "CompileError",
    "Compiled",
    "Diagnostic",
    "Report",
    "Severity",
    "Span",
    "check",
    "compile_plan",
    "dump_plan",
    "load_plan",
    "parse",
]
