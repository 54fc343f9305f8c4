"""REDS: Resource-Efficient Deep Subnetworks (Corti et al., arXiv 2311.13349), ported to TF 2.21 + tf-keras.

Importing the package does nothing but select Keras 2 semantics through ``mlperf_tiny`` when TF code is used;
the solver layer (``reds.utils.knapsack``) needs only numpy/scipy.
"""

__version__ = "0.1.0"
