"""Model Zoo: compare the classic Keras ImageNet models and fine-tune new heads on them."""

from model_zoo.runtime import quiet_tensorflow

quiet_tensorflow()

__version__ = "0.1.0"
