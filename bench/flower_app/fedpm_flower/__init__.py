"""fedpm's RUL task as a Flower App (bench/vs_flower.py)."""
