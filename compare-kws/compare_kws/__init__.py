"""One KWS DS-CNN, four ways to make it cheaper (REDS, depth pruning, T-RECX, magnitude pruning), measured alike.

``python -m compare_kws.compare --base BASE --data_dir DATA --out_dir OUT`` (see ``compare.py``).
"""
