"""Benchmark datasets: specs (``conf/dataset``) and the verified loader."""

from imbllm.data.loader import Dataset, DatasetError, load_dataset
from imbllm.data.spec import DatasetSpec, available_datasets, get_spec

__all__ = ["Dataset", "DatasetError", "DatasetSpec", "available_datasets", "get_spec", "load_dataset"]
