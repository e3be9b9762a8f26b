"""The flowchart steps, one module each; :mod:`.registry` lists them in flowchart order.

Each module exposes ``STEP_ID``, ``TITLE`` and ``run(ctx) -> StepResult``.
"""
