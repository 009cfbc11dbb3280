"""`kostyorc lsp`: a language server for spec files, another skin over the library.

Like terraform-ls it owns no language knowledge: diagnostics come from
`lsp.workspace.check_text` (the stages of `kostyorc check`), names and
their definitions from `lsp.navigation`, completion from
`lsp.completion`, formatting from `review.fmt`.  The modules here only
translate between those and the Language Server Protocol (pygls, the `lsp`
extra).  See docs/editors.md.
"""
