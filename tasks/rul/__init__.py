"""Remaining-useful-life task on NASA C-MAPSS: data, partition, evaluation, the in-memory experiment, its trainer."""
