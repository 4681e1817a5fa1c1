"""The core export service: a tabular data set (:class:`Table`) any list, query result,
analysis or report can produce, the registry of formats (the ``export_formats`` hook) and the
one format the core writes itself, CSV. The ``export`` plugin adds xlsx, docx, html, txt and
pdf; documents (statements, orders …) are printed through ``document_types``."""
