"""Scale-out: claims on run keys (every cell once) and a tracking store many workers share."""

from imbllm.scale.claims import DEFAULT_TIMEOUT, Claim, ClaimLost, ClaimStore, Taken, worker_id
from imbllm.scale.store import claims_url, prepare_store, schema_lock, slurm_tags

__all__ = [
    "DEFAULT_TIMEOUT",
    "Claim",
    "ClaimLost",
    "ClaimStore",
    "Taken",
    "claims_url",
    "prepare_store",
    "schema_lock",
    "slurm_tags",
    "worker_id",
]
