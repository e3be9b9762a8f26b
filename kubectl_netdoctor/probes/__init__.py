"""Live probing above the transport: what was probed and what it showed (:mod:`.evidence`, the only
part the checks import), and what runs, concurrently (:mod:`.orchestrator`)."""
