"""Create a tracking store's schema and the claims table once, before a sweep fans out.

    python scripts/prepare_store.py sqlite:///results/mlruns.db
    python scripts/prepare_store.py http://127.0.0.1:5055 --claims-uri postgresql+psycopg://imbllm@127.0.0.1:55432/imbllm

Two workers opening one fresh store at once both run MLflow's migrations and one dies
(``duplicate column name: client_request_id``); see imbllm/scale/store.py.
"""

from __future__ import annotations

import argparse
import logging

from imbllm.scale import prepare_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tracking_uri")
    ap.add_argument("--claims-uri", default=None, help="database of the claims (a server needs one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    claims = prepare_store(args.tracking_uri, args.claims_uri)
    print(f"ready: {args.tracking_uri} ({len(claims.holders())} claims held)")


if __name__ == "__main__":
    main()
