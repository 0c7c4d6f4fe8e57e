"""Upload the dbt model `meta_offline_events` to Meta's Conversions API as offline events.

The data flow, one module per step:
    dbt_profile    -> which DuckDB file dbt built into (dbt's own profile and target)
    dbt_artifacts  -> where dbt built the model, and whether its latest invocation succeeded
    model_reader   -> stream the model's rows from DuckDB, one order at a time, customer by customer
    validation     -> Meta's rules for a row, with a reason for every rejection
    normalize      -> normalize and SHA-256 hash customer information
    events         -> hash each customer once (in worker processes); one event per order, with a
                      deterministic event_id and payload hash
    delivery       -> batches of <= 1,000 events, retries, isolating events Meta rejects
    meta_api       -> the HTTP client for the Graph API (transport: one deadline per request)
    state          -> send log, run history and rejected rows in DuckDB (schema meta_capi),
                      brought up to date by migrations
    report         -> the run report; progress -> how far a run is, while it runs
    pipeline       -> ties the steps together: run_export(config) -> RunReport
    cli            -> flags and environment variables -> ExportConfig, exit codes (status)

Around them: config (typed settings and their checks), redact (secrets never printed), files
(output files written whole, never through a link), terminal (logging and usage errors),
tokens (`token check|refresh`), history (`history`, `rejected`: past runs from meta_capi).
"""
