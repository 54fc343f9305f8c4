"""MLPerf Tiny v0.5 image classification: ResNet-8 on CIFAR-10 (``keras_model``, ``train``, ``test``, ...)."""
