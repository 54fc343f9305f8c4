"""REDS on the ARM KWS CNN (original kws_convolution_cnn.py / kws_convolution_full_training.py).

    python -m reds.kws_convolution_cnn --data_dir DATA [--full_training] [flags]

Flag defaults are the original script's; ``--help`` lists them, README.md explains the port's extra flags.
"""

import run_contract as rc

from reds import pipeline

DEFAULTS = {'script': 'kws_convolution_cnn', 'architecture_name': 'cnn', 'learning_rate': '0.0005,0.0001,0.00002', 'training_steps': '10000,10000,10000', 'epochs': 75, 'finetune_head_epochs': 30, 'finetune_batch_norm_epochs': 20, 'model_sizes': 's,l', 'experimental_runs': 5}

# --full_training (the original *_full_training.py) changes these defaults.
FULL_TRAINING_DEFAULTS = {'model_sizes': 's,l', 'epochs': 75}


get_args_parser, main = pipeline.script(DEFAULTS, FULL_TRAINING_DEFAULTS, __doc__)

if __name__ == "__main__":
    rc.entry(main)
