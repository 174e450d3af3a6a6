"""``python -m auditledger_mlflow catalog-path``: where the shipped catalog extension is."""

import sys

from auditledger_mlflow import CATALOG

if __name__ == "__main__":
    if sys.argv[1:] != ["catalog-path"]:
        sys.exit("usage: python -m auditledger_mlflow catalog-path")
    print(CATALOG)
