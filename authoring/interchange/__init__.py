"""Question interchange: the questions of a lesson as GIFT, Moodle XML or QTI 1.2, and GIFT or
Moodle XML back into a questions file.

``questions.py`` holds the one model every format maps to and from (and its markdown writer);
each format is a module of pure functions (``*_render`` and ``*_parse``); ``files.py`` reads
and writes the files for the ``questions_export`` and ``questions_import`` commands.
"""
