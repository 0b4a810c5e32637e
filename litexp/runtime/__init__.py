"""The run runtime: what keeps a recorder's run alive and recorded while the process works.

- :mod:`.writer` — the write-behind logger (one thread per process) and heartbeats;
- :mod:`.lifecycle` — runs ended KILLED on SIGTERM, ended at interpreter exit;
- :mod:`.liveness` — is the process behind a RUNNING run still there (stale runs);
- :mod:`.capture` — what a run records about where it started (argv, ``_QLIB_*``, git).
"""
