"""Benchmark datasets: specs (``conf/dataset``) and the verified loader."""

from imbllm.data.errors import DatasetError
from imbllm.data.infer import describe
from imbllm.data.loader import Dataset, load_dataset
from imbllm.data.spec import DatasetSpec, available_datasets, get_spec

__all__ = ["Dataset", "DatasetError", "describe", "DatasetSpec", "available_datasets", "get_spec", "load_dataset"]
