"""The policy library: reading documents in their published formats and parsing them by their own structure.

`readers/` turns a file (.txt/.md/.docx/.pdf/.html) into numbered text lines (`SourceText`); structures (to come) turn
those lines into chunks. Today's house-style parser still lives in `assistant/corpus.py`.
"""
