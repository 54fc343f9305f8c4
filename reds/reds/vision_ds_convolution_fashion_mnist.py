"""REDS on the vision DS-CNN S, Fashion-MNIST (original vision_ds_convolution_fashion_mnist.py).

    python -m reds.vision_ds_convolution_fashion_mnist --data_dir DATA [--full_training] [flags]

Flag defaults are the original script's; ``--help`` lists them, README.md explains the port's extra flags.
"""

import run_contract as rc

from reds import pipeline

DEFAULTS = {'script': 'vision_ds_convolution_fashion_mnist', 'dataset': 'fashion_mnist', 'data_dir': 'data/fashion_mnist', 'architecture_name': 'ds_cnn', 'classes': 10, 'batch_size': 128, 'learning_rate': '0.001,0.00025,0.00001', 'training_steps': '16406,14062', 'epochs': 250, 'finetune_head_epochs': 40, 'finetune_batch_norm_epochs': 10, 'model_sizes': 's', 'experimental_runs': 3, 'head_stop_accuracy': 0.905, 'shuffle_each_epoch': True, 'batch_norm_learning_rate': 0.001}

FULL_TRAINING_DEFAULTS = {}


get_args_parser, main = pipeline.script(DEFAULTS, FULL_TRAINING_DEFAULTS, __doc__)

if __name__ == "__main__":
    rc.entry(main)
