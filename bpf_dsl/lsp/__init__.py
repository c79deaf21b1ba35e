"""``bpf lsp``: the language server. The only package that imports pygls and lsprotocol.

Modules, one job each:

- ``server``: the pygls server, each feature a thin handler; analysis in one worker thread, debounced;
- ``workspace``, ``project``: files, units (a file and what its imports reach), caches, snapshots;
- ``index``: what each name in a file means (declarations and uses, across imports and packs);
- ``context``: where the cursor stands in a half-typed text;
- ``completion``, ``hover``, ``navigation`` (definition, references, rename), ``outline`` (symbols, folding),
  ``tokens`` (semantic tokens), ``fixes`` (quick fixes), ``diagnostics`` (the checker's, for the editor);
- ``positions``: spans against LSP positions (UTF-16 by default).
"""
