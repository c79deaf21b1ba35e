"""``bpf test``: scenario files (``.bpft``) run on the pure engine with records in memory.

Modules, one job each:

- ``world``: records and instances in memory, moves with their effects all or nothing, an action context;
- ``runner``: a scenario file's files under test checked and compiled, each scenario run step by step;
- ``coverage``: which stages and ``if`` arms the scenarios reached;
- ``report``: finding files, the pytest-like report (text or JSON) and the exit code.

The scenario language is parsed by :mod:`bpf_dsl.parser.scenarios` (lark stays in the parser package).
"""
