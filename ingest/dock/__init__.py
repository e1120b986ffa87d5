"""The docking-station daemon: device sources (udev, watch folders), bays, sd_notify, status.

``daemon`` owns the threads (one per bay, the sources, embedded job workers) and their stop
path; ``status`` is the file that ``evidock status`` reads; ``notify`` speaks sd_notify. Imports
jobs, metrics, pipeline and cases; nothing below imports it.
"""
