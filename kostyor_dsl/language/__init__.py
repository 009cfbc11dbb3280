"""The language: source text -> parse tree -> AST, imports, and the one
Diagnostic type with its renderers (text, JSON, SARIF)."""
