from kostyor_dsl.lsp.server import main

main()
