"""Protocol handlers: how opentaskpy talks to hosts and moves files.

The handlers here build on two lower layers: :mod:`opentaskpy.fs` (listing,
atomic publishing, post-copy actions, streaming) and
:mod:`opentaskpy.transport.ssh` (SSH connections and SFTP pipelines).
``fileops`` and ``streaming`` stay importable from here for addons.
"""
