"""Records: the SQLite session store (the only SQL of the project), the recorder process that
drains the control core's rings into it, therapist reports, exports and simulated history.

Public entry points: `store.Store`, `store.ensure_demo_patient`, `paths.default_db_path`,
`recorder.start_recorder`, `report.write_session_report`, `report.write_patient_report`,
`export.export_csv`, `export.export_c3d`, `summary.finalize_summary`, `demo.fill_demo_history`.
See docs/records.md.
"""
