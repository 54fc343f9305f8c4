"""REDS building blocks (module names follow FraCorti/REDS ``utils/``)."""
