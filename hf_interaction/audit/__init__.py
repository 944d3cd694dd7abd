"""The audit: its settings and presets, the output function f around a model, the checks before
measuring, the run itself (run.py), the fresh-init baseline and the files it writes.

Entry point: :func:`hf_interaction.audit.run.run_audit`."""
