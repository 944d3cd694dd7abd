"""What every part shares: the SQLite results store, all-or-nothing output files, the one document
model and number formatter, figure bytes, the runtime (Accelerator factory, provenance stamp,
progress) and the declarations that turn settings dataclasses into CLI flags."""
