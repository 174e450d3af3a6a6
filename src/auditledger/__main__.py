"""``python -m auditledger``."""

from auditledger.cli.main import main

main()
