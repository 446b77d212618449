"""The file-system layer: listing, atomic publishing, post-copy, streaming.

Protocol handlers hand it a :class:`~opentaskpy.fs.filesystem.FileSystem`
(the local disk, an SFTP session); it may use :mod:`opentaskpy.transport`
and never imports protocol or task handlers.
"""
