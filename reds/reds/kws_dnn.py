"""REDS on the ARM KWS DNN (original kws_dnn.py / kws_dnn_full_training.py).

    python -m reds.kws_dnn --data_dir DATA [--full_training] [flags]

Flag defaults are the original script's; ``--help`` lists them, README.md explains the port's extra flags.
"""

import run_contract as rc

from reds import pipeline

DEFAULTS = {'script': 'kws_dnn', 'architecture_name': 'dnn', 'window_stride_ms': 40.0, 'learning_rate': '0.001,0.0001', 'training_steps': '15000,3000', 'epochs': 75, 'finetune_head_epochs': 0, 'finetune_batch_norm_epochs': 0, 'model_sizes': 's', 'experimental_runs': 3}

# --full_training (the original *_full_training.py) changes these defaults.
FULL_TRAINING_DEFAULTS = {'model_sizes': 's,l', 'epochs': 75, 'experimental_runs': 3}


get_args_parser, main = pipeline.script(DEFAULTS, FULL_TRAINING_DEFAULTS, __doc__)

if __name__ == "__main__":
    rc.entry(main)
