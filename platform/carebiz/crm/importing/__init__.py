"""Importing customers and their vehicles from a CSV or Excel (.xlsx) file.

Dealerships arrive with years of customers in spreadsheets exported from the old DMS or kept
by hand, in English or Chinese, saved by Excel as UTF-8 or GB18030. An import that silently
drops or bends data fills the new system with the same bad data the old one had, so:

* every row goes through the very services the forms use (:func:`parties.create_party`,
  :func:`vehicles.create_vehicle`), each row inside its own SAVEPOINT, so the dry run reports
  exactly what the real import would do, with the services' own messages;
* the report names each bad row as Excel shows it (the header is row 1) and each column by the
  header text the user wrote, so the fix is found without counting;
* columns the importer does not know are reported, never dropped without a word;
* by default nothing is written unless every row is valid, because half an import is harder
  to repair than none; ``only_valid`` imports the good rows on purpose;
* large files are checked and written in batches of committed transactions
  (:func:`import_batched`), so other people keep saving their work during an import: SQLite
  lets one transaction write at a time.

This package knows nothing of Flask requests: the pages, the API and the background task
``crm.import`` (:func:`run_import_task`) share it. One thing per module:

* :mod:`~carebiz.crm.importing.limits`: how large a file may be, the errors refusing one;
* :mod:`~carebiz.crm.importing.decoding`: bytes of a CSV or .xlsx file into a table of text;
* :mod:`~carebiz.crm.importing.headers`: the header row to fields; the template's headers;
* :mod:`~carebiz.crm.importing.values`: cells into the values the services take;
* :mod:`~carebiz.crm.importing.report`: the options of an import and its report;
* :mod:`~carebiz.crm.importing.rows`: one row, through the services, in its SAVEPOINT;
* :mod:`~carebiz.crm.importing.loop`: every row, in one transaction or in batches;
* :mod:`~carebiz.crm.importing.storage`: uploads kept for a background import;
* :mod:`~carebiz.crm.importing.job`: the ``crm.import`` background task.

Callers import what they use from the package itself; the tunable limits are read from
their module at call time (``limits.MAX_BYTES``, ``loop.BATCH_ROWS`` …), so set them there.
"""

from carebiz.crm.importing.decoding import Table, read_path, read_stream, read_table
from carebiz.crm.importing.headers import FIELDS, ColumnMap, map_columns, template_headers
from carebiz.crm.importing.job import import_files, run_import_task
from carebiz.crm.importing.limits import TooLarge, UnreadableFile
from carebiz.crm.importing.loop import import_batched, import_table
from carebiz.crm.importing.report import ON_EXISTING, Options, Report, failure_message
from carebiz.crm.importing.storage import (
    claim_upload,
    purge_stale_uploads,
    store_upload,
    upload_path,
    uploads_folder,
)

__all__ = [
    "FIELDS", "ON_EXISTING", "ColumnMap", "Options", "Report", "Table",
    "TooLarge", "UnreadableFile", "claim_upload", "failure_message", "import_batched",
    "import_files", "import_table", "map_columns", "purge_stale_uploads", "read_path",
    "read_stream", "read_table", "run_import_task", "store_upload", "template_headers",
    "upload_path", "uploads_folder",
]
