"""One HTTP layer for the teacher, the solvers and the judges: an async, memoised, budgeted client for
any OpenAI-compatible endpoint (``client``), its AIMD concurrency limit (``limiter``), retry policy
(``retry``), memo writer (``memo``) and cost ledger with the run's budget cap (``cost``)."""
