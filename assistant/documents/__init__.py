"""The policy library: reading documents in their published formats and parsing them by their own structure.

    readers/      a file (.txt/.md/.docx/.pdf/.html) → numbered text lines (`SourceText`), one module per format
    structures/   lines → chunks by the document's own numbering (公文, 条文, 办事指南, 问答, 段落), one module each
    metadata.py   title, 文号, issuer, dates, validity and phone from the text; the optional `<file>.meta.toml` sidecar
    library.py    `load_corpus`: every file of the corpus folder; failures recorded (file, line, reason), never fatal
    links.py      which related rule implements which measure of the primary (declared or from shared phrases)
    attribution.py  per-chunk label / document / phone, answer ordering across documents, the library listing
    manage.py     preview / add / remove / documents, for the CLI and an admin page
    model.py      the typed records (Chunk, Document, DocumentMeta, Corpus, LoadFailure)

`assistant/corpus.py` re-exports the records and `load_corpus` for the rest of the pipeline.
"""
