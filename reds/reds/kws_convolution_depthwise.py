"""REDS on the ARM KWS DS-CNN S/M/L (original kws_convolution_depthwise.py, README name kws_ds_convolution.py).

    python -m reds.kws_convolution_depthwise --data_dir DATA [--full_training] [flags]

Flag defaults are the original script's; ``--help`` lists them, README.md explains the port's extra flags.
"""

import run_contract as rc

from reds import pipeline

DEFAULTS = {'script': 'kws_convolution_depthwise', 'architecture_name': 'ds_cnn', 'learning_rate': '0.001,0.0001', 'training_steps': '20000,20000', 'epochs': 250, 'finetune_head_epochs': 30, 'finetune_batch_norm_epochs': 10, 'model_sizes': 'l', 'experimental_runs': 1}

# --full_training (the original *_full_training.py) changes these defaults.
FULL_TRAINING_DEFAULTS = {'model_sizes': 's', 'epochs': 300, 'experimental_runs': 1}


get_args_parser, main = pipeline.script(DEFAULTS, FULL_TRAINING_DEFAULTS, __doc__)

if __name__ == "__main__":
    rc.entry(main)
