"""Tools that only print or draw the AST: the formatter, the Pygments highlighter, diagrams.

Nothing here changes what a program means; the pipeline never imports this package
(the service draws diagrams through :mod:`.graph`, the CLI formats through :mod:`.formatter`).
"""
