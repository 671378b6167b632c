"""The Darknet Inspector desktop app (PySide6 + pyqtgraph).

Only Qt code lives here: every Darknet question is answered by `core`, and long work
(streaming weights, converting, detecting) runs in worker threads (`gui.workers`).
"""
