"""Send the events dbt built (model `meta_capi_events`) to Meta's Conversions API.

dbt decides every rule and every byte of each event (models/events/); this package delivers
them. The data flow, one module per step:
    dbt_profile    -> which DuckDB file dbt built into (dbt's own profile and target)
    dbt_artifacts  -> where dbt built the event models, and whether its latest invocation succeeded
    state          -> all of the exporter's SQL: the events still to send (not yet in the send
                      log), the model's rejections, send log, runs and rejected rows in DuckDB
                      (schema meta_capi), brought up to date by migrations
    events         -> an event as read from the model
    delivery       -> batches of <= 1,000 events, retries, isolating events Meta rejects
    meta_api       -> the HTTP client for the Graph API (transport: one deadline per request)
    report         -> the run report; progress -> how far a run is, while it runs
    pipeline       -> ties the steps together: run_export(config) -> RunReport
    cli            -> flags and environment variables -> ExportConfig, exit codes (status)

Around them: config (typed settings and their checks), redact (secrets never printed), files
(output files written whole, never through a link), terminal (logging and usage errors),
tokens (`token check|refresh`), history (`history`, `rejected`: past runs from meta_capi).
"""
