"""A writer process for the fault tests: ``python fault_worker.py upload FILE...`` or
``python fault_worker.py delete SOURCE...``, on the index under $CITYQA_HOME.

It goes through the same ``UIService`` the web UI uses, so killing it mid-way is what killing
``cityqa serve`` mid-upload or mid-delete does. It prints one line per finished step.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rag import Assistant
from ui.service import UIService


def main(argv: list[str]) -> int:
    command, *args = argv
    service = UIService(Assistant.open(build_if_missing=False))
    if command == "upload":
        for name in args:
            (outcome,) = service.upload([(Path(name), Path(name).name)])
            print(("ok " if outcome.ok else "failed ") + outcome.message, flush=True)
    elif command == "delete":
        docs = {d.source: d.doc_id for d in service.documents()}
        for source in args:
            print(service.delete(docs[source]), flush=True)
    else:
        raise SystemExit(f"unknown command {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
