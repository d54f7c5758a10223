"""Reports: a period's figures computed once in SQL (``figures``), the narrative written from them
(``narrative``), and the monthly report's files (``xlsx``, ``pdf``, ``monthly``).

The dashboard, the digests and the monthly report all read ``compute_figures``, so a number means the
same thing, and has the same value, wherever a supervisor reads it.
"""
