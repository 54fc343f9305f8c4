"""REDS on the vision DS-CNN S, CIFAR-10 (original vision_ds_convolution_cifar10.py).

    python -m reds.vision_ds_convolution_cifar10 --data_dir DATA [--full_training] [flags]

Flag defaults are the original script's; ``--help`` lists them, README.md explains the port's extra flags.
"""

import sys

from reds import pipeline

DEFAULTS = {'script': 'vision_ds_convolution_cifar10', 'dataset': 'cifar10', 'data_dir': 'data/cifar-10-batches-py', 'architecture_name': 'ds_cnn', 'classes': 10, 'batch_size': 128, 'learning_rate': '0.001,0.00025,0.00001', 'training_steps': '16406,14062', 'epochs': 250, 'finetune_head_epochs': 80, 'finetune_batch_norm_epochs': 10, 'model_sizes': 's', 'experimental_runs': 3, 'head_stop_accuracy': 0.8}

FULL_TRAINING_DEFAULTS = {}


def get_args_parser(add_help=True, full_training=False):
    defaults = dict(DEFAULTS, **(FULL_TRAINING_DEFAULTS if full_training else {}))
    return pipeline.get_args_parser(defaults, add_help=add_help, description=__doc__.splitlines()[0])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = get_args_parser(full_training="--full_training" in argv).parse_args(argv)
    return pipeline.run(args)


if __name__ == "__main__":
    main()
