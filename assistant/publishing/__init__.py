"""Keeping the policy library current (issue 21): staff operations on the library folder (library.py), checks on what
they upload (upload.py), and published versions of library + index that every replica swaps to (releases.py, live.py).

Library code: nothing here knows of HTTP; web/admin_documents.py is the edge.
"""
